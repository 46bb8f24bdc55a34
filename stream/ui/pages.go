package ui

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"safetynet/scorer"
	"safetynet/stream/api"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// signinBody is the sign-in page's data.
type signinBody struct {
	CSRF, Next, Msg string
}

func (u *UI) signinForm(w http.ResponseWriter, r *http.Request) {
	lang := langOf(w, r)
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if ss, err := u.sessions.decode(ck.Value, u.cfg.Now()); err == nil {
			if _, ok := u.api.CallerNamed(ss.Name); ok {
				http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
				return
			}
		}
	}
	m := ""
	switch r.URL.Query().Get("m") {
	case "expired":
		m = "signin.expired"
	case "out":
		m = "signin.signedout"
	}
	u.signinPage(w, r, lang, http.StatusOK, r.URL.Query().Get("next"), m)
}

// signinPage renders the sign-in form with a fresh nonce cookie for its CSRF token.
func (u *UI) signinPage(w http.ResponseWriter, r *http.Request, lang string, status int, next, msgKey string) {
	nonce := randomID()
	setCookie(w, r, preCookie, nonce, time.Time{})
	var b bytes.Buffer
	f := frame{Lang: lang, Path: r.URL.Path, LangURL: otherLang(r, lang),
		Body: signinBody{CSRF: u.sessions.csrf("signin", nonce), Next: safeNext(next), Msg: msgKey}}
	if err := u.pages[lang]["signin.html"].ExecuteTemplate(&b, "layout.html", f); err != nil {
		u.logger.Error("render the sign-in page", "err", err)
		http.Error(w, msg(lang, "err.internal"), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// signin checks the form's CSRF token against the nonce cookie, then the token (with the API's
// per-address limit on failures), records the sign-in on the audit trail and sets the session.
func (u *UI) signin(w http.ResponseWriter, r *http.Request) {
	lang := langOf(w, r)
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	nonce := ""
	if ck, err := r.Cookie(preCookie); err == nil {
		nonce = ck.Value
	}
	if err := r.ParseForm(); err != nil || !u.sessions.checkCSRF("signin", nonce, r.PostFormValue("csrf")) {
		u.errorPage(w, r, lang, http.StatusForbidden, "err.csrf")
		return
	}
	next := r.PostFormValue("next")
	c, err := u.api.SignIn(peer(r), strings.TrimSpace(r.PostFormValue("token")))
	switch {
	case errors.Is(err, api.ErrTooManyFailures):
		u.logger.Warn("UI sign-in refused: too many failed authentications from this address", "addr", peer(r))
		u.signinPage(w, r, lang, http.StatusTooManyRequests, next, "signin.limited")
		return
	case err != nil:
		u.logger.Warn("UI sign-in failed", "addr", peer(r))
		u.signinPage(w, r, lang, http.StatusUnauthorized, next, "signin.bad")
		return
	}
	rec := api.AuditRecord{At: u.api.Now().UTC(), Caller: c.Name, Role: c.Role, Action: ActionSignIn, Result: http.StatusSeeOther, RequestID: randomID()}
	if err := u.api.Record(r.Context(), rec); err != nil {
		u.logger.Error("audit record not written; answering 503", "err", err, "caller", c.Name, "action", ActionSignIn)
		u.errorPage(w, r, lang, http.StatusServiceUnavailable, "err.audit")
		return
	}
	ss := session{Name: c.Name, Expires: u.cfg.Now().Add(u.cfg.SessionIdle), ID: randomID()}
	setCookie(w, r, sessionCookie, u.sessions.encode(ss), time.Time{})
	setCookie(w, r, preCookie, "", time.Time{})
	target := safeNext(next)
	if target == "/ui/" && !c.ReadsHouseholds() && c.ReadsStats() {
		target = "/ui/stats"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (u *UI) signout(q *req) result {
	setCookie(q.w, q.r, sessionCookie, "", time.Time{})
	return result{redirect: "/ui/signin?m=out"}
}

// inboxRow is one case of the inbox.
type inboxRow struct {
	api.CaseItem
	Why []string // the top reasons, in the page's language
	Due dueText
}

type inboxBody struct {
	Status, Level, Overdue string
	Rows                   []inboxRow
	Total                  int
	Shown                  int
}

const inboxMax = 100

// inbox lists the cases of the caller's area: by default those not closed; overdue first, then
// by level (urgent first) and due date.
func (u *UI) inbox(q *req) result {
	qs := q.r.URL.Query()
	b := inboxBody{Status: qs.Get("status"), Level: qs.Get("level"), Overdue: qs.Get("overdue")}
	f := url.Values{}
	active := b.Status == "" || b.Status == "active"
	if !active {
		f.Set("status", b.Status)
	}
	f.Set("level", b.Level)
	switch b.Overdue {
	case "yes":
		f.Set("overdue", "true")
	case "no":
		f.Set("overdue", "false")
	}
	filter, err := api.ParseCases(f)
	if err != nil {
		return result{status: http.StatusBadRequest, page: "error.html", msgKey: "err.notfound"}
	}
	var items []api.CaseItem
	if err := u.api.Cases(q.r.Context(), q.c, filter, func(it api.CaseItem) bool {
		if !active || it.Status != household.CaseClosed {
			items = append(items, it)
		}
		return true
	}); errors.Is(err, api.ErrNoReadyOwner) {
		return retryList(q)
	} else if err != nil {
		u.logger.Error("list cases for the inbox", "err", err)
		return result{status: http.StatusInternalServerError, page: "error.html", msgKey: "err.internal"}
	}
	slices.SortStableFunc(items, func(a, b api.CaseItem) int {
		if a.Overdue != b.Overdue {
			if a.Overdue {
				return -1
			}
			return 1
		}
		if ra, rb := levelRank(a.Level), levelRank(b.Level); ra != rb {
			return rb - ra
		}
		return dueKey(a).Compare(dueKey(b))
	})
	b.Total = len(items)
	if len(items) > inboxMax {
		items = items[:inboxMax]
	}
	b.Shown = len(items)
	now := u.api.Now()
	b.Rows = make([]inboxRow, len(items))
	for k, it := range items {
		b.Rows[k] = inboxRow{CaseItem: it, Due: u.due(q.lang, it.DueBy, it.Status == household.CaseClosed, now)}
	}
	// The reasons of each row's household, read where it is served (its owner, for a household
	// of another instance's partitions); a few at a time. A household without a ready owner
	// shows its row without reasons, never older ones.
	var wg sync.WaitGroup
	sem := make(chan struct{}, inboxReaders)
	for k := range b.Rows {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if v, _, err := u.api.Household(q.r.Context(), q.c, b.Rows[k].HouseholdID); err == nil {
				b.Rows[k].Why = topReasons(v.Assessment.Reasons, q.lang, 2)
			}
		})
	}
	wg.Wait()
	return result{page: "inbox.html", data: b}
}

// inboxReaders is how many households the inbox reads at once for its rows' reasons.
const inboxReaders = 8

func dueKey(c api.CaseItem) time.Time {
	if c.DueBy.IsZero() {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return c.DueBy
}

func levelRank(l string) int { return slices.Index([]string{"watch", "warning", "urgent"}, l) }

func topReasons(rs []scorer.Reason, lang string, n int) []string {
	var out []string
	for _, r := range rs {
		if len(out) == n {
			break
		}
		if lang == "en" {
			out = append(out, r.EN)
		} else {
			out = append(out, r.ZH)
		}
	}
	return out
}

// dueText is a due date as the pages show it.
type dueText struct {
	Date    string
	Text    string
	Overdue bool
}

func (u *UI) due(lang string, due time.Time, closed bool, now time.Time) dueText {
	if due.IsZero() {
		return dueText{Text: msg(lang, "due.none")}
	}
	d := dueText{Date: due.In(u.cfg.Zone).Format("2006-01-02 15:04")}
	if closed {
		return d
	}
	days := int(due.Sub(now).Hours() / 24)
	switch {
	case now.After(due):
		d.Overdue = true
		d.Text = msg(lang, "due.overdue")
		if n := int(now.Sub(due).Hours() / 24); n > 0 {
			d.Text = sprintf(lang, "due.overdue_days", n)
		}
	case days == 0:
		d.Text = msg(lang, "due.today")
	default:
		d.Text = sprintf(lang, "due.left_days", days)
	}
	return d
}

// householdBody is the household page's data.
type householdBody struct {
	V        api.HouseholdView
	Case     *household.Case // the case to act on: the newest not closed, else the newest
	CaseID   string
	Due      dueText
	Why      []string // triggers and the top reasons
	Reasons  []scorer.Reason
	Dims     []bar
	Snooze   *household.Snooze
	Aid      *household.Aid
	Timeline []tlEntry
	Done     string
	Pending  bool
	CanAct   bool
	Open     bool
}

// tlEntry is one line of the timeline: an alert or a casework action.
type tlEntry struct {
	At      time.Time
	Kind    string // alert, assign, visit, close
	Status  string // alert status
	Level   string
	Score   float64
	Actor   string
	Detail  string // assignee, outcome (+ programme or reason), close reason
	Note    string
	CaseID  string
	Outcome string
}

func (u *UI) household(q *req) result {
	id := q.r.PathValue("id")
	v, cw, err := u.api.Household(q.r.Context(), q.c, id)
	if errors.Is(err, api.ErrNoHousehold) {
		// Unknown and outside the caller's area look the same.
		return result{status: http.StatusNotFound, page: "error.html", msgKey: "hh.not_found", household: id}
	}
	if errors.Is(err, api.ErrNoReadyOwner) {
		return retryHousehold(q, id)
	}
	if err != nil {
		u.logger.Error("read a household for the UI", "err", err)
		return result{status: http.StatusInternalServerError, page: "error.html", msgKey: "err.internal", household: id}
	}
	b := householdBody{V: v, Reasons: v.Assessment.Reasons, CanAct: q.c.ActsOnCases(), Done: q.r.URL.Query().Get("done"),
		Pending: q.r.URL.Query().Get("pending") != ""}
	b.Why = topReasons(v.Assessment.Reasons, q.lang, 3)
	for _, d := range v.Assessment.Dimensions {
		b.Dims = append(b.Dims, bar{Label: msg(q.lang, "dim."+d.Name), Value: d.Score / 100, Text: formatScore(d.Score)})
	}
	for _, a := range v.Alerts {
		b.Timeline = append(b.Timeline, tlEntry{At: a.EmittedAt, Kind: "alert", Status: a.Status, Level: a.Level, Score: a.Score})
	}
	if cw != nil {
		b.Snooze, b.Aid = cw.Snooze, cw.Aid
		for i := range cw.Cases {
			c := &cw.Cases[i]
			if b.Case == nil || c.Status != household.CaseClosed || b.Case.Status == household.CaseClosed {
				b.Case = c
			}
			for _, a := range c.Actions {
				e := tlEntry{At: a.At, Kind: a.Type, Actor: a.Actor, Note: a.Note, CaseID: c.ID}
				switch a.Type {
				case feed.CaseAssign:
					e.Detail = a.Assignee
				case feed.CaseVisit:
					e.Outcome = a.Outcome
					switch {
					case a.Program != "":
						e.Detail = msg(q.lang, "program."+a.Program)
					case a.Reason != "":
						e.Detail = msg(q.lang, "reason."+a.Reason)
					}
				case feed.CaseClose:
					e.Detail = a.Reason
				}
				b.Timeline = append(b.Timeline, e)
			}
		}
	}
	slices.SortStableFunc(b.Timeline, func(x, y tlEntry) int { return y.At.Compare(x.At) })
	if b.Case != nil {
		b.CaseID = b.Case.ID
		b.Open = b.Case.Status != household.CaseClosed
		b.Due = u.due(q.lang, b.Case.DueBy, !b.Open, u.api.Now())
	}
	return result{page: "household.html", data: b, household: id}
}

// visitBody is the visit form's data (its values again after an error).
type visitBody struct {
	V                                    api.HouseholdView
	Case                                 *household.Case
	CaseID                               string
	Why                                  []string
	VisitedAt, Outcome, Program, Reason  string
	Note                                 string
	Err, ErrField                        string
	Outcomes, Programs, NotNeededReasons []string
	Now                                  string
}

// loadVisit reads the household and the case of a case id for the visit form.
func (u *UI) loadVisit(q *req) (visitBody, *result) {
	id := q.r.PathValue("id")
	ref, ok := feed.ParseCaseID(id)
	hid := ref.HouseholdID
	if !ok {
		return visitBody{}, &result{status: http.StatusNotFound, page: "error.html", msgKey: "hh.not_found"}
	}
	v, cw, err := u.api.Household(q.r.Context(), q.c, hid)
	if errors.Is(err, api.ErrNoHousehold) {
		return visitBody{}, &result{status: http.StatusNotFound, page: "error.html", msgKey: "hh.not_found", household: hid}
	}
	if errors.Is(err, api.ErrNoReadyOwner) {
		res := retryHousehold(q, hid)
		return visitBody{}, &res
	}
	if err != nil {
		u.logger.Error("read a household for the visit form", "err", err)
		return visitBody{}, &result{status: http.StatusInternalServerError, page: "error.html", msgKey: "err.internal", household: hid}
	}
	b := visitBody{V: v, CaseID: id, Why: topReasons(v.Assessment.Reasons, q.lang, 3),
		Outcomes: feed.Outcomes, Programs: feed.Programs, NotNeededReasons: feed.NotNeededReasons,
		VisitedAt: u.api.Now().In(u.cfg.Zone).Format("2006-01-02T15:04")}
	if cw != nil {
		for i := range cw.Cases {
			if cw.Cases[i].ID == id {
				b.Case = &cw.Cases[i]
			}
		}
	}
	if b.Case == nil {
		return b, &result{status: http.StatusNotFound, page: "error.html", msgKey: "hh.not_found", household: hid}
	}
	return b, nil
}

func (u *UI) visitForm(q *req) result {
	b, res := u.loadVisit(q)
	if res != nil {
		return *res
	}
	return result{page: "visit.html", data: b, household: b.V.HouseholdID}
}

// visit records a visit through the API's action path (casework topic, applied by the monitor)
// and redirects to the household page; a refused visit shows the form again naming the field.
func (u *UI) visit(q *req) result {
	b, res := u.loadVisit(q)
	if res != nil {
		return *res
	}
	f := q.r.PostForm
	b.VisitedAt, b.Outcome, b.Note = f.Get("visited_at"), f.Get("outcome"), f.Get("note")
	if b.Outcome == feed.OutcomeAidGranted {
		b.Program = f.Get("program")
	}
	if b.Outcome == feed.OutcomeNotNeeded {
		b.Reason = f.Get("reason")
	}
	refuse := func(status int, field, detail string) result {
		b.ErrField = field
		b.Err = detail
		if field != "" {
			b.Err = msg(q.lang, "field."+field) + " — " + detail
		}
		return result{status: status, page: "visit.html", data: b, household: b.V.HouseholdID, reason: "invalid_" + field}
	}
	at, err := time.ParseInLocation("2006-01-02T15:04", b.VisitedAt, u.cfg.Zone)
	if err != nil {
		return refuse(http.StatusBadRequest, "visited_at", "want a date and time (2026-01-02T15:04)")
	}
	req := api.ActionRequest{VisitedAt: at.UTC().Format(time.RFC3339), Outcome: b.Outcome, Program: b.Program, Reason: b.Reason, Note: b.Note}
	return u.act(q, feed.CaseVisit, b.CaseID, b.V.HouseholdID, req, "visit", refuse)
}

func (u *UI) assign(q *req) result {
	id := q.r.PathValue("id")
	ref, _ := feed.ParseCaseID(id)
	hid := ref.HouseholdID
	assignee := strings.TrimSpace(q.r.PostFormValue("assignee"))
	if assignee == "" {
		assignee = q.c.Name
	}
	refuse := func(status int, field, detail string) result {
		return result{status: status, page: "error.html", msgKey: "err.internal", household: hid, reason: "invalid_" + field}
	}
	return u.act(q, feed.CaseAssign, id, hid, api.ActionRequest{Assignee: assignee}, "assign", refuse)
}

// act performs an action and redirects to the household page.
func (u *UI) act(q *req, typ, caseID, hid string, ar api.ActionRequest, done string, refuse func(int, string, string) result) result {
	ctx, cancel := context.WithTimeout(q.r.Context(), 15*time.Second)
	defer cancel()
	view, err := u.api.Act(ctx, q.c, typ, caseID, ar)
	var ae *api.ActionError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusNotFound:
			return result{status: http.StatusNotFound, page: "error.html", msgKey: "hh.not_found", household: hid}
		case http.StatusForbidden:
			return result{status: http.StatusForbidden, page: "error.html", msgKey: "err.forbidden", household: hid, reason: "role"}
		case http.StatusServiceUnavailable, http.StatusInternalServerError:
			return result{status: ae.Status, page: "error.html", msgKey: "err.internal", household: hid}
		}
		return refuse(ae.Status, ae.Field, ae.Msg)
	}
	if errors.Is(err, api.ErrNoReadyOwner) {
		return retryHousehold(q, hid)
	}
	if err != nil {
		return result{status: http.StatusInternalServerError, page: "error.html", msgKey: "err.internal", household: hid}
	}
	target := "/ui/households/" + url.PathEscape(hid) + "?done=" + done
	if view == nil {
		target += "&pending=1"
	}
	return result{redirect: target, household: hid}
}

// retryHousehold is the answer while a household's partition has no ready owner (moving between
// instances, being restored or caught up, the owner unreachable): 503 with Retry-After, a page
// asking to try again in a few seconds, nothing of the household.
func retryHousehold(q *req, hid string) result {
	q.w.Header().Set("Retry-After", retryAfter)
	return result{status: http.StatusServiceUnavailable, page: "error.html", msgKey: "err.retry_household", household: hid, reason: "no_ready_owner"}
}

// retryList is the answer while a list's fan-out misses a partition (one has no ready owner, or
// it moved while the parts were read): 503 with Retry-After, never a list short of a partition.
func retryList(q *req) result {
	q.w.Header().Set("Retry-After", retryAfter)
	return result{status: http.StatusServiceUnavailable, page: "error.html", msgKey: "err.retry_list", reason: "no_ready_owner"}
}

// retryAfter is the wait a 503 for data without a ready owner asks for, in seconds (as /v1).
const retryAfter = "2"
