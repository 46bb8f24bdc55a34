package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The lists that span every household — GET /v1/cases and GET /v1/stats — are answered by a
// fan-out: the instance the caller spoke to asks the owner of every partition (itself included)
// for its part over the partitions it serves, checks that the parts cover every partition
// exactly once, and merges them. Cases merge by their case index key (opened time, case id),
// which is the same on every instance, so a page cursor from one instance is valid on any
// other; the statistics add counts and pool the visit durations before taking the median. A
// part from an instance that no longer serves what it claimed, a missing owner or a partition
// covered twice (a rebalance under way) makes the answer 503 with Retry-After: never a list
// that misses or doubles a partition. Why a fan-out and not a table every instance builds
// (like /v1/alerts): a case list needs every household's state, and a table of every household
// on every instance is the whole changelog on every disk (docs/design.md).

// partsHeader carries, on an instance's part of a fanned-out list, the partitions it covers.
const partsHeader = "X-Safetynet-Partitions"

// scopeKey is the request context key of the partitions a part covers.
type scopeKey struct{}

// scope is the set of partitions a part of a fanned-out list covers.
type scope struct {
	parts map[int]bool
	of    func(householdID string) int
}

func (s *scope) has(householdID string) bool { return s == nil || s.parts[s.of(householdID)] }

// scopeOf returns the scope of a part, nil for a whole (single-instance) answer.
func scopeOf(r *http.Request) *scope {
	s, _ := r.Context().Value(scopeKey{}).(*scope)
	return s
}

// fanOutPath reports whether the request is for a list answered by a fan-out.
func fanOutPath(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == "/v1/cases" || r.URL.Path == "/v1/stats")
}

// fanOut answers a list request: the part of this instance when the request came from another
// one (internal), otherwise the merge of every owner's part.
func (a *API) fanOut(r *http.Request, c Caller, internal bool, handle func(*http.Request, Caller) reply) reply {
	if internal {
		return a.part(r, c, handle)
	}
	owners, n, ok := a.cfg.Router.Owners()
	if !ok {
		return noOwner("")
	}
	self := a.cfg.Router.Self()
	parts := make([]reply, len(owners))
	var wg sync.WaitGroup
	for k, o := range owners {
		wg.Go(func() {
			if o == self {
				parts[k] = a.part(r, c, handle)
				return
			}
			parts[k] = a.askPart(r, c, o)
		})
	}
	wg.Wait()
	covered := make([]bool, n)
	for _, p := range parts {
		if p.status != http.StatusOK {
			if p.status >= 400 && p.status < 500 {
				return p // the same validation on every instance: the caller's mistake
			}
			return noOwner("")
		}
		for _, s := range strings.Split(p.header.Get(partsHeader), ",") {
			q, err := strconv.Atoi(s)
			if err != nil || q < 0 || q >= n || covered[q] {
				return noOwner("") // a partition twice: ownership moved between the parts
			}
			covered[q] = true
		}
	}
	if slices.Contains(covered, false) {
		return noOwner("")
	}
	raws := make([][]byte, len(parts))
	for k, p := range parts {
		raws[k] = p.raw
	}
	var merged any
	var err error
	switch r.URL.Path {
	case "/v1/cases":
		merged, err = mergeCases(r, raws)
	default:
		merged, err = mergeStats(raws)
	}
	if err != nil {
		a.logger.Error("merge the parts of a list", "path", r.URL.Path, "err", err)
		return noOwner("")
	}
	body, _ := json.Marshal(merged)
	return reply{status: http.StatusOK, raw: append(body, '\n'), header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}
}

// part answers this instance's part of a list: over the partitions it serves now, checked
// again after reading (a partition lost meanwhile makes the part 503).
func (a *API) part(r *http.Request, c Caller, handle func(*http.Request, Caller) reply) reply {
	served := a.cfg.Router.Served()
	sc := &scope{parts: map[int]bool{}, of: a.cfg.Router.PartitionOf}
	names := make([]string, len(served))
	for k, p := range served {
		sc.parts[p] = true
		names[k] = strconv.Itoa(p)
	}
	if len(served) == 0 {
		return noOwner("")
	}
	rep := handle(r.WithContext(context.WithValue(r.Context(), scopeKey{}, sc)), c)
	if !slices.Equal(a.cfg.Router.Served(), served) {
		return noOwner("")
	}
	if rep.raw == nil {
		b, _ := json.Marshal(rep.body)
		rep.raw, rep.body = b, nil
	}
	if rep.header == nil {
		rep.header = http.Header{}
	}
	rep.header.Set("Content-Type", "application/json; charset=utf-8")
	rep.header.Set(partsHeader, strings.Join(names, ","))
	return rep
}

// askPart asks the instance at owner for its part.
func (a *API) askPart(r *http.Request, c Caller, owner string) reply {
	ctx, cancel := context.WithTimeout(r.Context(), forwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(owner, "/")+r.URL.RequestURI(), nil)
	if err != nil {
		return noOwner("")
	}
	who, _ := json.Marshal(struct{ Name, Role, Area string }{c.Name, c.Role, c.Area})
	req.Header.Set("Authorization", "Bearer "+a.cfg.InternalToken)
	req.Header.Set(callerHeader, base64.RawURLEncoding.EncodeToString(who))
	resp, err := a.client.Do(req)
	if err != nil {
		a.logger.Warn("ask an instance for its part of a list failed; answering 503", "owner", owner, "err", err)
		return noOwner("")
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return noOwner("")
	}
	h := http.Header{}
	for _, k := range []string{"Content-Type", "Retry-After", partsHeader} {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return reply{status: resp.StatusCode, raw: raw, header: h}
}

// casesPart is an instance's part of GET /v1/cases: the page over its partitions and the case
// index key of every case on it.
type casesPart struct {
	Cases      []json.RawMessage `json:"cases"`
	Keys       []string          `json:"keys"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// mergeCases takes the first page (newest first, by case index key) of the parts' pages: each
// part holds the first `limit` cases after the cursor of its partitions, so the first `limit`
// of their union are the first of all.
func mergeCases(r *http.Request, raws [][]byte) (any, error) {
	limit := 50
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil {
		limit = n
	}
	type item struct {
		key  []byte
		body json.RawMessage
	}
	var all []item
	more := false
	for _, raw := range raws {
		var p casesPart
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		if len(p.Keys) != len(p.Cases) {
			return nil, errText("a part's keys do not match its cases")
		}
		for k := range p.Cases {
			key, err := base64.RawURLEncoding.DecodeString(p.Keys[k])
			if err != nil {
				return nil, err
			}
			all = append(all, item{key, p.Cases[k]})
		}
		more = more || p.NextCursor != ""
	}
	slices.SortFunc(all, func(x, y item) int { return bytes.Compare(y.key, x.key) })
	out := struct {
		Cases      []json.RawMessage `json:"cases"`
		NextCursor string            `json:"next_cursor,omitempty"`
	}{Cases: []json.RawMessage{}}
	if len(all) > limit {
		all, more = all[:limit], true
	}
	for _, it := range all {
		out.Cases = append(out.Cases, it.body)
	}
	if more && len(all) > 0 {
		out.NextCursor = base64.RawURLEncoding.EncodeToString(all[len(all)-1].key)
	}
	return out, nil
}

// statsPart is an instance's part of GET /v1/stats: counts, and the visit durations of every
// group (a median is not made of medians).
type statsPart struct {
	Area             string           `json:"area"`
	At               time.Time        `json:"at"`
	AreaPrefixLength int              `json:"area_prefix_length"`
	Households       int              `json:"households"`
	Levels           map[string]int64 `json:"levels"`
	Acc              *statsAcc        `json:"acc"`
}

// mergeStats adds the parts' counts and pools their visit durations.
func mergeStats(raws [][]byte) (any, error) {
	var out Stats
	acc := newStatsAcc()
	for k, raw := range raws {
		var p statsPart
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		if p.Acc == nil {
			return nil, errText("a part without its statistics")
		}
		if k == 0 {
			out = Stats{Area: p.Area, Levels: map[string]int64{}}
			acc.At, acc.PrefixLen = p.At, p.AreaPrefixLength
		}
		out.Households += p.Households
		for l, n := range p.Levels {
			out.Levels[l] += n
		}
		acc.merge(p.Acc)
	}
	out.CaseStats = acc.result()
	return out, nil
}
