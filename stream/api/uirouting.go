package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"safetynet/stream/household"
)

// The caseworker UI (stream/ui) behind one Service with several instances answers as one
// service, through the same paths as /v1: a household page, the visit form and the casework
// actions are answered by the household's owner (route.go's forwarding, with the internal
// credential and the caller's name, role and area; the owner writes no audit record), and the
// inbox and the statistics are the fan-out of GET /v1/cases and GET /v1/stats (fanout.go). The
// UI's page is rendered, and audited once, by the instance the caseworker spoke to.

// caseworkHeader, on a forwarded GET /v1/households/{id} bearing the internal credential, asks
// the owner to add the household's casework (cases with their actions, snooze, aid: what the
// UI's household page and visit form show beside the view). A caller's own header is never
// forwarded (forwardWith sets only this instance's), and the owner ignores it without the
// internal credential, so no /v1 caller sees more than the household view.
const caseworkHeader = "X-Safetynet-Casework"

// householdPage is a household view with its casework, as an owner answers the UI's forwarded
// household read.
type householdPage struct {
	HouseholdView
	Casework *household.Casework `json:"casework,omitempty"`
}

// wantsCasework reports whether a household read is another instance's, for the UI, asking for
// the casework too.
func (a *API) wantsCasework(r *http.Request) bool {
	if r.Header.Get(caseworkHeader) == "" {
		return false
	}
	_, internal := a.internalCaller(r)
	return internal
}

// internalRequest is a request made for the UI on the caller's behalf, as if to /v1.
func internalRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return r, nil
}

// householdAt reads a household and its casework from its owner.
func (a *API) householdAt(ctx context.Context, c Caller, owner, id string) (HouseholdView, *household.Casework, error) {
	r, err := internalRequest(ctx, http.MethodGet, "/v1/households/"+url.PathEscape(id), nil)
	if err != nil {
		return HouseholdView{}, nil, err
	}
	rep := a.forwardWith(r, c, owner, id, http.Header{caseworkHeader: {"1"}})
	switch rep.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return HouseholdView{}, nil, ErrNoHousehold
	case http.StatusServiceUnavailable:
		return HouseholdView{}, nil, ErrNoReadyOwner
	default:
		return HouseholdView{}, nil, fmt.Errorf("the household's owner answered %d to a household read", rep.status)
	}
	var p householdPage
	if err := json.Unmarshal(rep.raw, &p); err != nil {
		return HouseholdView{}, nil, fmt.Errorf("the household's owner answered a household read that does not decode: %w", err)
	}
	return p.HouseholdView, p.Casework, nil
}

// actAt has the household's owner perform a casework action: POST /v1/cases/{id}/{action}.
func (a *API) actAt(ctx context.Context, c Caller, owner, typ, caseID, hid string, req ActionRequest) (*CaseView, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, &ActionError{http.StatusInternalServerError, "", "cannot encode the action"}
	}
	r, err := internalRequest(ctx, http.MethodPost, "/v1/cases/"+url.PathEscape(caseID)+"/"+url.PathEscape(typ), body)
	if err != nil {
		return nil, &ActionError{http.StatusInternalServerError, "", "cannot make the request to the household's owner"}
	}
	rep := a.forwardWith(r, c, owner, hid, nil)
	switch {
	case rep.status == http.StatusOK:
		var v CaseView
		if err := json.Unmarshal(rep.raw, &v); err != nil {
			return nil, &ActionError{http.StatusInternalServerError, "", "the household's owner answered a case that does not decode"}
		}
		return &v, nil
	case rep.status == http.StatusAccepted:
		return nil, nil // accepted, not applied yet
	case rep.status == http.StatusServiceUnavailable && rep.header.Get("Retry-After") != "":
		return nil, ErrNoReadyOwner
	}
	var e apiError
	if json.Unmarshal(rep.raw, &e) != nil || e.Error == "" {
		e.Error = "the household's owner answered " + strconv.Itoa(rep.status)
	}
	msg := e.Error
	if e.Field != "" {
		// The owner's message is "field: detail"; the ActionError holds them apart.
		if d, ok := strings.CutPrefix(msg, e.Field+": "); ok {
			msg = d
		}
	}
	return nil, &ActionError{Status: rep.status, Field: e.Field, Msg: msg}
}

// casesPageSize is the page the UI's case lists read from the fan-out (GET /v1/cases' largest).
const casesPageSize = 1000

// casesFanOut reads every page of the fan-out of GET /v1/cases with the filter, as the caller.
func (a *API) casesFanOut(ctx context.Context, c Caller, f CaseFilter, each func(CaseItem) bool) error {
	q := f.Query()
	q.Set("limit", strconv.Itoa(casesPageSize))
	for {
		r, err := internalRequest(ctx, http.MethodGet, "/v1/cases?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		rep := a.fanOut(r, c, false, a.held(a.cases))
		if err := listError(rep); err != nil {
			return err
		}
		var page struct {
			Cases      []CaseItem `json:"cases"`
			NextCursor string     `json:"next_cursor"`
		}
		if err := json.Unmarshal(rep.raw, &page); err != nil {
			return fmt.Errorf("the merged case list does not decode: %w", err)
		}
		for _, it := range page.Cases {
			if !each(it) {
				return nil
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		q.Set("cursor", page.NextCursor)
	}
}

// statsFanOut reads the fan-out of GET /v1/stats as the caller.
func (a *API) statsFanOut(ctx context.Context, c Caller, prefixLen int) (*CaseStats, error) {
	r, err := internalRequest(ctx, http.MethodGet, "/v1/stats?area_prefix="+strconv.Itoa(prefixLen), nil)
	if err != nil {
		return nil, err
	}
	rep := a.fanOut(r, c, false, a.stats)
	if err := listError(rep); err != nil {
		return nil, err
	}
	var s Stats
	if err := json.Unmarshal(rep.raw, &s); err != nil {
		return nil, fmt.Errorf("the merged statistics do not decode: %w", err)
	}
	if s.CaseStats == nil {
		return nil, errText("the merged statistics have no casework figures")
	}
	return s.CaseStats, nil
}

// listError is why a fanned-out list cannot be shown: ErrNoReadyOwner for a 503 (a partition
// without a ready owner, or covered twice during a rebalance).
func listError(rep reply) error {
	switch {
	case rep.status == http.StatusOK:
		return nil
	case rep.status == http.StatusServiceUnavailable:
		return ErrNoReadyOwner
	}
	var e apiError
	_ = json.Unmarshal(rep.raw, &e)
	return &ActionError{Status: rep.status, Field: e.Field, Msg: e.Error}
}

// Query is the filter as the parameters of GET /v1/cases (ParseCaseFilter reads it back).
func (f CaseFilter) Query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "level": f.Level, "kind": f.Kind, "area": f.Area, "assignee": f.Assignee} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Overdue != nil {
		q.Set("overdue", strconv.FormatBool(*f.Overdue))
	}
	return q
}
