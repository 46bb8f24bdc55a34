package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"safetynet/stream/feed"
)

// Several instances answer as one service: every /v1 request about one household (its view,
// its cases, case actions) is answered by the instance that owns the household's partition and
// has caught up on it. The instance the caller spoke to authenticates, checks the role, limits
// the rate, forwards when it is not the owner and records the audit entry once; the owner
// trusts the forwarded caller because the request bears the internal credential
// (SAFETYNET_INTERNAL_TOKEN), which no caller token can be. While a partition has no ready
// owner the answer is 503 with Retry-After: never a copy that may be stale.

// Router says where a household is served (cluster.Router in stream/monitor/cluster).
type Router interface {
	// Route: local when this instance serves the household's partition now; otherwise the
	// owner's URL, or "" when no ready owner is known.
	Route(householdID string) (local bool, owner string)
	// Serves reports whether this instance serves the household's partition now.
	Serves(householdID string) bool
	// Owners lists the URLs of the owners of every partition, and the number of partitions;
	// ok is false while any partition has no known owner (fanout.go).
	Owners() (urls []string, partitions int, ok bool)
	// Self is this instance's advertised URL.
	Self() string
	// Served lists the partitions this instance serves now, sorted.
	Served() []int
	// PartitionOf is the partition of a household.
	PartitionOf(householdID string) int
}

// Internal-request headers: the caller a forwarded request is made for.
const callerHeader = "X-Safetynet-Caller"

// forwardTimeout bounds a forwarded request (case actions wait up to 10 s for their event to
// be applied).
const forwardTimeout = 15 * time.Second

// retryAfterSeconds is what a 503 for a partition without a ready owner asks callers to wait.
const retryAfterSeconds = "2"

// internalCaller returns the caller a request from another instance is made for, when the
// request bears the internal credential.
func (a *API) internalCaller(r *http.Request) (Caller, bool) {
	if a.internalHash == nil {
		return Caller{}, false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return Caller{}, false
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if subtle.ConstantTimeCompare(h[:], a.internalHash[:]) != 1 {
		return Caller{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(r.Header.Get(callerHeader))
	if err != nil {
		return Caller{}, false
	}
	var c struct{ Name, Role, Area string }
	if json.Unmarshal(raw, &c) != nil || c.Name == "" || c.Role == "" {
		return Caller{}, false
	}
	return Caller{Name: c.Name, Role: c.Role, Area: c.Area}, true
}

// routedHousehold is the household a request is about when it must be answered by that
// household's owner ("" for lists and the audit trail).
func routedHousehold(r *http.Request) string {
	id := r.PathValue("id")
	switch {
	case id == "":
		return ""
	case strings.HasPrefix(r.URL.Path, "/v1/households/"):
		return id
	case strings.HasPrefix(r.URL.Path, "/v1/cases/"):
		if ref, ok := feed.ParseCaseID(id); ok {
			return ref.HouseholdID
		}
	}
	return ""
}

// routed answers a request about household hid: here when this instance serves it, otherwise
// forwarded to its owner, or 503 with Retry-After while it has none (or when the request was
// already forwarded to this instance and it no longer serves the household).
func (a *API) routed(r *http.Request, c Caller, hid string, internal bool, handle func(*http.Request, Caller) reply) reply {
	local, owner := a.cfg.Router.Route(hid)
	if local {
		rep := handle(r, c)
		// The partition may have moved while the answer was read: then it is not given.
		if !a.cfg.Router.Serves(hid) {
			return noOwner(hid)
		}
		return rep
	}
	if internal || owner == "" {
		return noOwner(hid)
	}
	return a.forward(r, c, owner, hid)
}

func noOwner(hid string) reply {
	body, _ := json.Marshal(map[string]string{"error": "this household's partition is moving between instances or catching up; try again shortly"})
	return reply{status: http.StatusServiceUnavailable, raw: body, household: hid, reason: "no_ready_owner",
		header: http.Header{"Retry-After": {retryAfterSeconds}, "Content-Type": {"application/json; charset=utf-8"}, "Cache-Control": {"no-store"}}}
}

// forward sends the request to the owner with the internal credential and the caller, and
// returns the owner's answer as this instance's reply.
func (a *API) forward(r *http.Request, c Caller, owner, hid string) reply {
	return a.forwardWith(r, c, owner, hid, nil)
}

// forwardWith is forward with extra headers set by this instance (never copied from a caller's
// request: the owner honours them because the request bears the internal credential).
func (a *API) forwardWith(r *http.Request, c Caller, owner, hid string, extra http.Header) reply {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
		if err != nil {
			return badRequest("request body larger than 1 MiB or unreadable")
		}
		body = b
	}
	ctx, cancel := context.WithTimeout(r.Context(), forwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, strings.TrimSuffix(owner, "/")+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return noOwner(hid)
	}
	who, _ := json.Marshal(struct{ Name, Role, Area string }{c.Name, c.Role, c.Area})
	req.Header.Set("Authorization", "Bearer "+a.cfg.InternalToken)
	req.Header.Set(callerHeader, base64.RawURLEncoding.EncodeToString(who))
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.logger.Warn("forward to the household's owner failed; answering 503", "owner", owner, "err", err)
		return noOwner(hid)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return noOwner(hid)
	}
	h := http.Header{}
	for _, k := range []string{"Content-Type", "Retry-After", "Cache-Control", "Location"} {
		if v := resp.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	rep := reply{status: resp.StatusCode, raw: raw, header: h, household: hid}
	if resp.StatusCode == http.StatusServiceUnavailable {
		rep.reason = "no_ready_owner"
	}
	return rep
}

// IsCallerToken reports whether token is one of the callers' tokens: the internal credential
// must not be (a caller could then speak for anyone).
func IsCallerToken(callers []Caller, token string) bool {
	h := sha256.Sum256([]byte(token))
	for _, c := range callers {
		if subtle.ConstantTimeCompare(h[:], c.hash[:]) == 1 {
			return true
		}
	}
	return false
}
