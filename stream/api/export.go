package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"safetynet/state"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// What the caseworker UI (stream/ui) uses of the API: the same callers, rate limits, audit
// trail, household view, case list, statistics and casework actions as /v1, without HTTP.

// ErrNoHousehold is the answer for an unknown household and for one outside the caller's area
// alike.
var ErrNoHousehold = errors.New("no household with that id on this instance")

// ErrNoReadyOwner: no instance serves the household's partition now (a rebalance, a restore or
// catch-up, the owner unreachable), or for a list, some partition; try again in a few seconds.
// Never answered with a local copy that may be stale.
var ErrNoReadyOwner = errors.New("no instance serves this data now; try again in a few seconds")

// ErrTooManyFailures is returned by SignIn when the client address has failed to authenticate
// too often; ErrBadToken when the token is no caller's.
var (
	ErrTooManyFailures = errors.New("too many failed authentications from this address")
	ErrBadToken        = errors.New("no caller has that token")
)

// SignIn finds the caller of a token presented from addr (the peer address), with the same
// per-address limit on failures as /v1.
func (a *API) SignIn(addr, token string) (Caller, error) {
	if limited, _ := a.failures.exhausted(addr, time.Now()); limited {
		return Caller{}, ErrTooManyFailures
	}
	c, ok := a.byToken(token)
	if !ok {
		if allowed, _ := a.failures.take(addr, time.Now()); !allowed {
			return Caller{}, ErrTooManyFailures
		}
		return Caller{}, ErrBadToken
	}
	return c, nil
}

// BearerCaller is the caller of a request's `Authorization: Bearer` header, if any (no limit
// on failures: use SignIn for that).
func (a *API) BearerCaller(r *http.Request) (Caller, bool) { return a.authenticate(r) }

// CallerNamed returns the configured caller of that name: a session names its caller, and the
// caller's role and area are always the ones configured now.
func (a *API) CallerNamed(name string) (Caller, bool) {
	for _, c := range a.callers {
		if c.Name == name {
			return c, true
		}
	}
	return Caller{}, false
}

// Allow takes one request from the caller's rate limit; when it is spent, it says how many
// seconds to wait.
func (a *API) Allow(c Caller) (bool, int) { return a.perCaller.take(c.Name, time.Now()) }

// Record writes an audit record and returns once it is durable; nothing may be answered unless
// it returns nil.
func (a *API) Record(ctx context.Context, rec AuditRecord) error { return a.record(ctx, rec) }

// Now is the API's clock.
func (a *API) Now() time.Time { return a.cfg.Now() }

// ReadsHouseholds reports whether the caller's role may read household data and cases.
func (c Caller) ReadsHouseholds() bool { return c.can(kindHouseholds) }

// ReadsStats reports whether the caller's role may read the statistics.
func (c Caller) ReadsStats() bool { return c.can(kindStats) }

// ListsCases reports whether the caller's role may list cases (GET /v1/cases).
func (c Caller) ListsCases() bool { return c.can(kindCases) }

// ActsOnCases reports whether the caller's role may assign and visit cases.
func (c Caller) ActsOnCases() bool { return c.Role == RoleCaseworker || c.Role == RoleSupervisor }

// Household is what GET /v1/households/{id} shows the caller, with the household's casework
// (cases, snooze, aid; nil when it has none). ErrNoHousehold when the caller cannot see it.
// With several instances it is answered like /v1: here when this instance serves the household,
// otherwise by its owner (uirouting.go); ErrNoReadyOwner while there is none.
func (a *API) Household(ctx context.Context, c Caller, id string) (HouseholdView, *household.Casework, error) {
	if a.cfg.Router != nil {
		local, owner := a.cfg.Router.Route(id)
		if !local {
			if owner == "" {
				return HouseholdView{}, nil, ErrNoReadyOwner
			}
			return a.householdAt(ctx, c, owner, id)
		}
	}
	v, err := a.store.Household(id)
	if errors.Is(err, state.ErrNotFound) {
		err = ErrNoHousehold
	}
	// The partition may have moved while the household was read: then it is not shown.
	if a.cfg.Router != nil && !a.cfg.Router.Serves(id) {
		return HouseholdView{}, nil, ErrNoReadyOwner
	}
	if err != nil {
		return HouseholdView{}, nil, err
	}
	h, err := household.Decode(v)
	if err != nil {
		return HouseholdView{}, nil, err
	}
	if !c.Covers(areaOf(h)) {
		return HouseholdView{}, nil, ErrNoHousehold
	}
	return a.view(h), h.Casework, nil
}

// ParseCases reads a case filter from a query (the parameters of GET /v1/cases); the error
// names the field.
func ParseCases(q url.Values) (CaseFilter, error) {
	f, cerr := ParseCaseFilter(q)
	if cerr != nil {
		return f, cerr
	}
	return f, nil
}

// Cases calls each, newest first, for the cases in the caller's area that the filter selects,
// until each returns false. With several instances they are the pages of the fan-out of
// GET /v1/cases (every partition from its owner, merged); ErrNoReadyOwner while a partition has
// no ready owner.
func (a *API) Cases(ctx context.Context, c Caller, f CaseFilter, each func(CaseItem) bool) error {
	if a.cfg.Router != nil {
		return a.casesFanOut(ctx, c, f, each)
	}
	now := a.cfg.Now()
	return a.store.Cases(nil, func(_, value []byte) bool {
		var s household.CaseSummary
		if json.Unmarshal(value, &s) != nil {
			return true
		}
		if !c.Covers(s.Area) || !f.Match(&s, now) {
			return true
		}
		return each(CaseItem{CaseSummary: s, Overdue: s.Overdue(now)})
	})
}

// CaseStats are the casework figures of GET /v1/stats for the caller, areas grouped by their
// first prefixLen digits. With several instances they are the fan-out's merge, as /v1/stats
// answers; ErrNoReadyOwner while a partition has no ready owner.
func (a *API) CaseStats(ctx context.Context, c Caller, prefixLen int) (*CaseStats, error) {
	if a.cfg.Router != nil {
		return a.statsFanOut(ctx, c, prefixLen)
	}
	return computeStats(a.store, a.cfg.Now(), prefixLen, func(s *household.CaseSummary) bool { return c.Covers(s.Area) })
}

// Act performs an action (assign, visit or close: feed.CaseAssign …) on a case as the caller, on
// the same path as POST /v1/cases/{id}/{action}: checked as intake checks it, produced to the
// casework topic, and waited for until the monitor applied it. The view is nil when the action
// was accepted but not applied yet. With several instances the household's owner performs it
// (the request is forwarded as /v1 forwards it); ErrNoReadyOwner while there is none. Any other
// error from Act is an *ActionError.
func (a *API) Act(ctx context.Context, c Caller, typ, caseID string, req ActionRequest) (*CaseView, error) {
	if ref, ok := feed.ParseCaseID(caseID); ok && a.cfg.Router != nil {
		local, owner := a.cfg.Router.Route(ref.HouseholdID)
		if !local {
			if owner == "" {
				return nil, ErrNoReadyOwner
			}
			return a.actAt(ctx, c, owner, typ, caseID, ref.HouseholdID, req)
		}
	}
	v, _, cerr := a.act(ctx, caller{Name: c.Name, Role: c.Role, AreaPrefix: c.Area}, typ, caseID, req)
	if cerr != nil {
		return nil, cerr
	}
	return v, nil
}
