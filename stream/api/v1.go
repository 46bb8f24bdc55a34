package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// reply is what a /v1 handler answers; v1 records it on the audit trail before writing it.
type reply struct {
	status    int
	body      any
	raw       []byte      // a body already encoded (v1h), written instead of body
	header    http.Header // headers of a raw body
	household string      // the household asked about, for the audit record
	reason    string      // why a read was refused, for the audit record only
}

func (r reply) about(householdID string) reply { r.household = householdID; return r }

func badRequest(msg string) reply {
	return reply{status: http.StatusBadRequest, body: map[string]string{"error": msg}}
}

// auditTimeout bounds the wait for the audit trail's acknowledgement.
const auditTimeout = 10 * time.Second

// v1 wraps a /v1 handler: request id, authentication (with the per-address limit on failures),
// the per-caller rate limit, the role check, and the audit record written before the answer.
func (a *API) v1(kind, action string, handle func(*http.Request, Caller) reply) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reqID := newRequestID()
		w.Header().Set("X-Request-ID", reqID)
		now := a.cfg.Now()
		addr := clientAddr(r)
		if limited, wait := a.failures.exhausted(addr, time.Now()); limited {
			a.logger.Warn("API request refused: too many failed authentications from this address", "addr", addr, "request_id", reqID)
			tooMany(w, wait, "too many failed authentications from this address")
			return
		}
		c, internal := a.internalCaller(r)
		ok := internal
		if !internal {
			c, ok = a.authenticate(r)
		}
		if !ok {
			a.logger.Warn("API authentication failed", "addr", addr, "path", r.URL.Path, "request_id", reqID)
			if allowed, wait := a.failures.take(addr, time.Now()); !allowed {
				tooMany(w, wait, "too many failed authentications from this address")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="safetynet"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required (SAFETYNET_API_TOKENS)"})
			return
		}
		if allowed, wait := a.perCaller.take(c.Name, time.Now()); !internal && !allowed {
			a.logger.Warn("API request refused: caller over its rate limit (SAFETYNET_API_RATE)", "caller", c.Name, "request_id", reqID)
			tooMany(w, wait, "rate limit exceeded (SAFETYNET_API_RATE, SAFETYNET_API_BURST)")
			return
		}
		var rep reply
		if hid := routedHousehold(r); c.can(kind) && hid != "" && a.cfg.Router != nil {
			rep = a.routed(r, c, hid, internal, handle)
		} else if c.can(kind) && a.cfg.Router != nil && fanOutPath(r) {
			rep = a.fanOut(r, c, internal, handle)
		} else if c.can(kind) {
			rep = handle(r, c)
		} else {
			rep = reply{status: http.StatusForbidden, body: map[string]string{"error": "role " + c.Role + " may not use " + r.URL.Path}, reason: "role"}
			if kind == kindHouseholds && r.PathValue("id") != "" {
				rep.household = r.PathValue("id")
			}
		}
		rec := AuditRecord{
			At: now.UTC(), Caller: c.Name, Role: c.Role, Action: action, HouseholdID: rep.household,
			Result: rep.status, Reason: rep.reason, RequestID: reqID,
		}
		if rep.household == "" {
			rec.Query = r.URL.RawQuery
		}
		// A forwarded request was audited by the instance the caller spoke to.
		if err := a.recordUnlessInternal(r.Context(), rec, internal); err != nil {
			a.logger.Error("audit record not written; answering 503 (no unaudited read)", "err", err, "caller", c.Name, "action", action, "request_id", reqID)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the audit trail cannot be written; nothing is answered unaudited, try again later"})
			return
		}
		if rep.raw != nil {
			for k, v := range rep.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rep.status)
			_, _ = w.Write(rep.raw)
			return
		}
		writeJSON(w, rep.status, rep.body)
	}
}

// v1h is v1 for a handler that writes its own answer (the casework handlers): the answer is
// held until its audit record is written, and the caller is in the request's context
// (callerOf). The household of a case id is the audit record's household.
func (a *API) v1h(kind, action string, h http.HandlerFunc) http.HandlerFunc {
	return a.v1(kind, action, a.held(h))
}

// held turns a handler that writes its own answer into one that returns it as a reply, with
// the caller in the request's context (callerOf).
func (a *API) held(h http.HandlerFunc) func(*http.Request, Caller) reply {
	return func(r *http.Request, c Caller) reply {
		ctx := context.WithValue(r.Context(), callerKey{}, caller{Name: c.Name, Role: c.Role, AreaPrefix: c.Area})
		rec := &heldResponse{header: http.Header{}, status: http.StatusOK}
		h(rec, r.WithContext(ctx))
		rep := reply{status: rec.status, raw: rec.body.Bytes(), header: rec.header}
		if ref, ok := feed.ParseCaseID(r.PathValue("id")); ok {
			rep.household = ref.HouseholdID
		}
		if rep.raw == nil {
			rep.raw = []byte{}
		}
		return rep
	}
}

// heldResponse holds a handler's answer until it may be sent.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header         { return h.header }
func (h *heldResponse) WriteHeader(status int)      { h.status = status }
func (h *heldResponse) Write(b []byte) (int, error) { return h.body.Write(b) }

func (a *API) recordUnlessInternal(ctx context.Context, rec AuditRecord, internal bool) error {
	if internal {
		return nil
	}
	return a.record(ctx, rec)
}

func (a *API) record(ctx context.Context, rec AuditRecord) error {
	if a.cfg.Auditor == nil {
		return errNoAuditor
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	return a.cfg.Auditor.Record(ctx, rec)
}

type errText string

func (e errText) Error() string { return string(e) }

const errNoAuditor = errText("no audit trail configured")

// authenticate finds the caller whose token the request bears. Every caller's hash is compared,
// in constant time, whether or not an earlier one matched.
func (a *API) authenticate(r *http.Request) (Caller, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return Caller{}, false
	}
	return a.byToken(tok)
}

// byToken finds the caller of a token.
func (a *API) byToken(tok string) (Caller, bool) {
	h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	found, match := Caller{}, false
	for _, c := range a.callers {
		if subtle.ConstantTimeCompare(h[:], c.hash[:]) == 1 {
			found, match = c, true
		}
	}
	return found, match
}

// clientAddr is the address the request came from (the peer, not a forwarded-for header, which
// any client can write).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func tooMany(w http.ResponseWriter, wait int, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(wait))
	writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": msg})
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// areaOf is the area code of a household (its head's registry area code), the one place the API
// reads it: callers limited to an area prefix see a household only when this starts with it.
func areaOf(h *household.Household) string { return h.AreaCode() }

// Stats is what GET /v1/stats answers: households by level within the caller's area, and the
// casework figures (cases opened, visited, confirmed… per level, trigger and area prefix).
type Stats struct {
	Area       string           `json:"area"` // the caller's area prefix; "" for every area
	Households int              `json:"households"`
	Levels     map[string]int64 `json:"levels"` // "none" for households below every level
	*CaseStats
}

// stats counts the households of the caller's area by level. It reads every household of this
// instance's store: seconds for a hundred thousand, hence the rate limit.
func (a *API) stats(r *http.Request, c Caller) reply {
	n := 6
	if s := r.URL.Query().Get("area_prefix"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > MaxAreaDigits {
			return reply{status: http.StatusBadRequest, body: apiError{Error: "area_prefix: want a number of digits from 0 to 12", Field: "area_prefix"}}
		}
		n = v
	}
	out := Stats{Area: c.Area, Levels: map[string]int64{}}
	sc := scopeOf(r) // nil unless this is one instance's part of a fanned-out answer
	err := a.store.Households(func(id string, v []byte) error {
		if err := r.Context().Err(); err != nil {
			return err
		}
		if !sc.has(id) {
			return nil
		}
		h, err := household.Decode(v)
		if err != nil {
			return nil // counted nowhere; the monitor dead-letters what it cannot apply
		}
		if !c.Covers(areaOf(h)) {
			return nil
		}
		level := h.Level
		if level == "" {
			level = "none"
		}
		out.Households++
		out.Levels[level]++
		return nil
	})
	if err != nil {
		a.logger.Error("count households for the API", "err", err)
		return reply{status: http.StatusInternalServerError, body: map[string]string{"error": "cannot read the state store"}}
	}
	acc, err := collectStats(a.store, a.cfg.Now(), n, func(s *household.CaseSummary) bool { return c.Covers(s.Area) && sc.has(s.HouseholdID) })
	if err != nil {
		a.logger.Error("casework statistics", "err", err)
		return reply{status: http.StatusInternalServerError, body: map[string]string{"error": "cannot read the state store"}}
	}
	if sc != nil {
		return reply{status: http.StatusOK, body: statsPart{Area: out.Area, At: acc.At, AreaPrefixLength: acc.PrefixLen,
			Households: out.Households, Levels: out.Levels, Acc: acc}}
	}
	out.CaseStats = acc.result()
	return reply{status: http.StatusOK, body: out}
}

// AuditPage is what GET /v1/audit answers.
type AuditPage struct {
	Records    []AuditRecord `json:"records"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// audit reads the audit trail: ?caller=&household_id=&from=&to=&limit=&cursor=, oldest first.
func (a *API) audit(r *http.Request, _ Caller) reply {
	qs := r.URL.Query()
	q := AuditQuery{Caller: qs.Get("caller"), HouseholdID: qs.Get("household_id")}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := qs.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return badRequest(p.name + " must be an RFC 3339 time (2026-01-02T15:04:05Z)")
			}
			*p.t = t
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return badRequest("to must be after from")
	}
	limit := 100
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit must be a number from 1 to 1000")
		}
		limit = n
	}
	var after *auditCursor
	if s := qs.Get("cursor"); s != "" {
		c, err := decodeAuditCursor(s)
		if err != nil {
			return badRequest("cursor is not one this API gave out")
		}
		after = &c
	}
	if a.cfg.Trail == nil {
		return reply{status: http.StatusServiceUnavailable, body: map[string]string{"error": "the audit trail cannot be read on this instance"}}
	}
	page := AuditPage{Records: []AuditRecord{}}
	err := a.cfg.Trail.Audit(r.Context(), q, func(rec AuditRecord) bool {
		if after != nil && !after.before(rec) {
			return true
		}
		if len(page.Records) == limit {
			last := page.Records[limit-1]
			page.NextCursor = auditCursor{At: last.At, RequestID: last.RequestID}.encode()
			return false
		}
		page.Records = append(page.Records, rec)
		return true
	})
	if err != nil {
		a.logger.Error("read the audit trail", "err", err)
		return reply{status: http.StatusServiceUnavailable, body: map[string]string{"error": "the audit trail cannot be read now"}}
	}
	return reply{status: http.StatusOK, body: page}
}

// auditCursor is the position after the last record of a page: records sort by time, then
// request id.
type auditCursor struct {
	At        time.Time `json:"at"`
	RequestID string    `json:"id"`
}

func (c auditCursor) before(r AuditRecord) bool {
	if !c.At.Equal(r.At) {
		return c.At.Before(r.At)
	}
	return c.RequestID < r.RequestID
}

func (c auditCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeAuditCursor(s string) (auditCursor, error) {
	var c auditCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil || c.At.IsZero() {
		return c, errText("bad cursor")
	}
	return c, nil
}
