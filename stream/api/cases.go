package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"safetynet/state"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// Casework API: actions on cases (assign, visit, close) go to the casework feed topic like any
// external system's, and the answer waits until the monitor has applied them (read-your-writes);
// the case list reads the case index the monitor keeps in state.

// caller is who makes a casework request: a name (recorded as the actor of an action), a role,
// and the area prefix they may see ("" for every area).
type caller struct {
	Name       string
	Role       string
	AreaPrefix string
}

// callerKey is the request context key of the authenticated caller (set by v1h).
type callerKey struct{}

// callerOf returns the caller v1h authenticated. A request that reaches a casework handler
// without one (none does: every route is wrapped) is nobody's and may do nothing.
func callerOf(r *http.Request) caller {
	if c, ok := r.Context().Value(callerKey{}).(caller); ok {
		return c
	}
	return caller{Name: "", Role: ""}
}

// sees reports whether the caller's area covers a household's area (the same rule as
// Caller.Covers: a caller limited to an area sees no household of unknown area).
func (c caller) sees(area string) bool {
	return Caller{Area: c.AreaPrefix}.Covers(area)
}

// CaseworkWriter produces a casework record to the casework topic, keyed by household id, and
// returns once the broker acknowledged it.
type CaseworkWriter func(ctx context.Context, key, value []byte) error

// applyWait is how long an action waits for the monitor to apply it before answering 202.
const applyWait = 5 * time.Second

func (a *API) registerCases() {
	a.mux.HandleFunc("GET /v1/cases", a.v1h(kindCases, ActionCasesList, a.cases))
	a.mux.HandleFunc("GET /v1/cases/{id}", a.v1h(kindCases, ActionCaseRead, a.caseDetail))
	a.mux.HandleFunc("POST /v1/cases/{id}/assign", a.v1h(kindCases, ActionCaseAssign, a.caseAction(feed.CaseAssign)))
	a.mux.HandleFunc("POST /v1/cases/{id}/visit", a.v1h(kindCases, ActionCaseVisit, a.caseAction(feed.CaseVisit)))
	a.mux.HandleFunc("POST /v1/cases/{id}/close", a.v1h(kindCases, ActionCaseClose, a.caseAction(feed.CaseClose)))
}

// apiError is an error answer; Field names the field that was wrong, when one was.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func fail(w http.ResponseWriter, code int, field, msg string) {
	if field != "" {
		msg = field + ": " + msg
	}
	writeJSON(w, code, apiError{Error: msg, Field: field})
}

// ActionError is why a case request (an action, a filter) cannot be served: the HTTP status
// /v1 answers, the field at fault (if any) and the message.
type ActionError struct {
	Status int
	Field  string
	Msg    string
}

func (e *ActionError) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Msg
	}
	return e.Msg
}

func (e *ActionError) write(w http.ResponseWriter) { fail(w, e.Status, e.Field, e.Msg) }

// loadCase reads the household of a case id and the case, or says why it cannot.
func (a *API) loadCase(id string, c caller) (*household.Household, *household.Case, *ActionError) {
	ref, ok := feed.ParseCaseID(id)
	hid := ref.HouseholdID
	if !ok {
		return nil, nil, &ActionError{http.StatusNotFound, "case_id", "not a case id (a household id, a dash and the episode number, or -v- and an application id, or -r- or -s- and a month)"}
	}
	v, err := a.store.Household(hid)
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil, &ActionError{http.StatusNotFound, "case_id", "no such case on this instance"}
	}
	if err != nil {
		a.logger.Error("read household for a case", "err", err)
		return nil, nil, &ActionError{http.StatusInternalServerError, "", "cannot read the state store"}
	}
	h, err := household.Decode(v)
	if err != nil {
		a.logger.Error("decode household for a case", "err", err)
		return nil, nil, &ActionError{http.StatusInternalServerError, "", "stored household does not decode"}
	}
	cs := h.Case(id)
	if cs == nil || !c.sees(h.AreaCode()) {
		return nil, nil, &ActionError{http.StatusNotFound, "case_id", "no such case on this instance"}
	}
	return h, cs, nil
}

// CaseView is a case with its timeline, as GET /v1/cases/{id} answers it.
type CaseView struct {
	household.Case
	HouseholdID string `json:"household_id"`
	Overdue     bool   `json:"overdue"`
}

func (a *API) caseView(h *household.Household, cs *household.Case) CaseView {
	v := CaseView{Case: *cs, HouseholdID: h.ID, Overdue: cs.Overdue(a.cfg.Now())}
	if v.Alerts == nil {
		v.Alerts = []household.CaseAlert{}
	}
	if v.Actions == nil {
		v.Actions = []household.CaseAction{}
	}
	return v
}

func (a *API) caseDetail(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if c.Role != RoleCaseworker && c.Role != RoleSupervisor && c.Role != RoleAuditor {
		fail(w, http.StatusForbidden, "role", "a caseworker, supervisor or auditor may read cases")
		return
	}
	h, cs, cerr := a.loadCase(r.PathValue("id"), c)
	if cerr != nil {
		cerr.write(w)
		return
	}
	writeJSON(w, http.StatusOK, a.caseView(h, cs))
}

// ActionRequest is the body of an action: assign takes assignee; visit visited_at, outcome,
// program, reason; close reason; all take an optional note.
type ActionRequest struct {
	Assignee  string `json:"assignee,omitempty"`
	VisitedAt string `json:"visited_at,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	Program   string `json:"program,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Note      string `json:"note,omitempty"`
}

func (a *API) caseAction(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := callerOf(r)
		if cerr := a.mayAct(c, typ); cerr != nil {
			cerr.write(w)
			return
		}
		if _, cs, cerr := a.loadCase(r.PathValue("id"), c); cerr != nil {
			cerr.write(w)
			return
		} else if cs.Status == household.CaseClosed {
			fail(w, http.StatusConflict, "case_id", "the case is closed")
			return
		}
		var req ActionRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, "", "the body is not a JSON object of this action's fields: "+feed.ScrubIDs(err.Error()))
			return
		}
		id := r.PathValue("id")
		view, eventID, cerr := a.act(r.Context(), c, typ, id, req)
		switch {
		case cerr != nil:
			cerr.write(w)
		case view != nil:
			writeJSON(w, http.StatusOK, view)
		default:
			w.Header().Set("Location", "/v1/cases/"+id)
			writeJSON(w, http.StatusAccepted, map[string]string{"event_id": eventID, "case_id": id,
				"status": "accepted; not applied yet: poll the Location"})
		}
	}
}

// mayAct checks the caller's role for an action and that this instance takes actions.
func (a *API) mayAct(c caller, typ string) *ActionError {
	switch {
	case c.Role != RoleCaseworker && c.Role != RoleSupervisor:
		return &ActionError{http.StatusForbidden, "role", "only a caseworker or a supervisor may act on cases"}
	case typ == feed.CaseClose && c.Role != RoleSupervisor:
		return &ActionError{http.StatusForbidden, "role", "only a supervisor may close a case"}
	case a.cfg.Casework == nil:
		return &ActionError{http.StatusServiceUnavailable, "", "this instance does not accept casework actions"}
	}
	return nil
}

// act validates an action the way intake will, produces it to the casework topic and waits for
// the monitor to apply it: it returns the case as applied, or a nil view (and the event id)
// when it was not applied within applyWait.
func (a *API) act(ctx context.Context, c caller, typ, id string, req ActionRequest) (*CaseView, string, *ActionError) {
	if cerr := a.mayAct(c, typ); cerr != nil {
		return nil, "", cerr
	}
	h, cs, cerr := a.loadCase(id, c)
	if cerr != nil {
		return nil, "", cerr
	}
	if cs.Status == household.CaseClosed {
		return nil, "", &ActionError{http.StatusConflict, "case_id", "the case is closed"}
	}
	now := a.cfg.Now()
	rec := map[string]any{"event_id": newEventID(), "type": typ, "household_id": h.ID, "case_id": id,
		"occurred_at": now.UTC().Format(time.RFC3339Nano), "actor": c.Name}
	for k, v := range map[string]string{"assignee": req.Assignee, "visited_at": req.VisitedAt, "outcome": req.Outcome,
		"program": req.Program, "reason": req.Reason, "note": req.Note} {
		if v != "" {
			rec[k] = v
		}
	}
	value, err := json.Marshal(rec)
	if err != nil {
		return nil, "", &ActionError{http.StatusInternalServerError, "", "cannot encode the action"}
	}
	// The same validation intake applies: what the API accepts, intake accepts.
	ev, derr := feed.DecodeCasework(value, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, now)
	if derr != nil {
		return nil, "", &ActionError{http.StatusBadRequest, derr.Field, derr.Detail}
	}
	if err := a.cfg.Casework(ctx, []byte(h.ID), value); err != nil {
		a.logger.Error("produce a casework action", "type", typ, "err", err)
		return nil, "", &ActionError{http.StatusServiceUnavailable, "", "cannot write the action to the casework topic; try again"}
	}
	if h, cs := a.waitApplied(ctx, h.ID, id, ev.EventID); cs != nil {
		v := a.caseView(h, cs)
		return &v, ev.EventID, nil
	}
	return nil, ev.EventID, nil
}

// waitApplied polls the store until the household's case holds the action, for up to applyWait.
func (a *API) waitApplied(ctx context.Context, hid, caseID, eventID string) (*household.Household, *household.Case) {
	deadline := time.Now().Add(applyWait)
	for {
		if v, err := a.store.Household(hid); err == nil {
			if h, err := household.Decode(v); err == nil && h.HasAction(caseID, eventID) {
				return h, h.Case(caseID)
			}
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// newEventID is a random event id in letters only (a nibble per letter, a–p): hex digits could
// form a run of 15 or 18 digits, which intake refuses in identifiers as a resident ID number.
func newEventID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	out := make([]byte, 0, 4+2*len(b))
	out = append(out, "api-"...)
	for _, c := range b {
		out = append(out, 'a'+c>>4, 'a'+c&0x0f)
	}
	return string(out)
}

// CaseItem is one case of the list.
type CaseItem struct {
	household.CaseSummary
	Overdue bool `json:"overdue"`
}

// cases lists cases newest first: ?status=&level=&kind=&area=&assignee=&overdue=&limit=&cursor=.
// status is open, assigned, closed or overdue (open or assigned past the due time).
func (a *API) cases(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if c.Role != RoleCaseworker && c.Role != RoleSupervisor && c.Role != RoleAuditor {
		fail(w, http.StatusForbidden, "role", "a caseworker, supervisor or auditor may list cases")
		return
	}
	q := r.URL.Query()
	f, cerr := ParseCaseFilter(q)
	if cerr != nil {
		cerr.write(w)
		return
	}
	limit := 50
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			fail(w, http.StatusBadRequest, "limit", "want a number from 1 to 1000")
			return
		}
		limit = n
	}
	var after []byte
	if s := q.Get("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || !bytes.HasPrefix(b, state.CasePrefix()) {
			fail(w, http.StatusBadRequest, "cursor", "not one this API gave out")
			return
		}
		after = b
	}
	now := a.cfg.Now()
	out := struct {
		Cases      []CaseItem `json:"cases"`
		Keys       []string   `json:"keys,omitempty"` // only in an instance's part of a fanned-out list
		NextCursor string     `json:"next_cursor,omitempty"`
	}{Cases: []CaseItem{}}
	sc := scopeOf(r) // nil unless this is one instance's part of a fanned-out list
	var last []byte
	err := a.store.Cases(after, func(key, value []byte) bool {
		var s household.CaseSummary
		if json.Unmarshal(value, &s) != nil {
			return true
		}
		od := s.Overdue(now)
		if !sc.has(s.HouseholdID) || !c.sees(s.Area) || !f.Match(&s, now) {
			return true
		}
		if len(out.Cases) == limit {
			out.NextCursor = base64.RawURLEncoding.EncodeToString(last)
			return false
		}
		out.Cases = append(out.Cases, CaseItem{CaseSummary: s, Overdue: od})
		if sc != nil {
			out.Keys = append(out.Keys, base64.RawURLEncoding.EncodeToString(key))
		}
		last = key
		return true
	})
	if err != nil {
		a.logger.Error("list cases", "err", err)
		fail(w, http.StatusInternalServerError, "", "cannot read the state store")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func oneOf(s string, list ...string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

// CaseFilter selects cases of the list (GET /v1/cases and the caseworker UI's inbox); empty
// fields select every case.
type CaseFilter struct {
	Status   string // open, assigned, closed, or overdue (open or assigned past the due time)
	Level    string
	Kind     string
	Area     string // area code prefix
	Assignee string
	Overdue  *bool
}

// ParseCaseFilter reads ?status=&level=&kind=&area=&assignee=&overdue=, naming the field that is
// wrong.
func ParseCaseFilter(q url.Values) (CaseFilter, *ActionError) {
	f := CaseFilter{Status: q.Get("status"), Level: q.Get("level"), Kind: q.Get("kind"), Area: q.Get("area"), Assignee: q.Get("assignee")}
	if f.Status != "" && !oneOf(f.Status, household.CaseOpen, household.CaseAssigned, household.CaseClosed, household.CaseOverdue) {
		return f, &ActionError{http.StatusBadRequest, "status", "want open, assigned, closed or overdue"}
	}
	if f.Level != "" && !oneOf(f.Level, "watch", "warning", "urgent") {
		return f, &ActionError{http.StatusBadRequest, "level", "want watch, warning or urgent"}
	}
	if f.Kind != "" && !oneOf(f.Kind, household.KindAlert, household.KindReview, household.KindSpotCheck, household.KindVerification, household.KindEligibility) {
		return f, &ActionError{http.StatusBadRequest, "kind", "want alert, review, spot_check or verification"}
	}
	if s := q.Get("overdue"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return f, &ActionError{http.StatusBadRequest, "overdue", "want true or false"}
		}
		f.Overdue = &b
	}
	return f, nil
}

// Match reports whether the filter selects the case at now.
func (f CaseFilter) Match(s *household.CaseSummary, now time.Time) bool {
	od := s.Overdue(now)
	switch {
	case f.Area != "" && !strings.HasPrefix(s.Area, f.Area),
		f.Level != "" && s.Level != f.Level, f.Kind != "" && s.Kind != f.Kind, f.Assignee != "" && s.Assignee != f.Assignee,
		f.Overdue != nil && od != *f.Overdue,
		f.Status == household.CaseOverdue && !od, f.Status != "" && f.Status != household.CaseOverdue && s.Status != f.Status:
		return false
	}
	return true
}
