package monitor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"safetynet/internal/testshot"
	"safetynet/scorer"
	"safetynet/stream/api"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
	"safetynet/stream/ui"
)

// Tokens of the UI test's callers (a caseworker of area 420106, a supervisor of every area).
const (
	uiCaseworkerToken = "ui-cw-8d3f2a91c7e4b6058a1f3e9d2c7b4a60"
	uiSupervisorToken = "ui-sv-1b9e7c3a5d2f4086e1c9a7b3d5f20e48"
)

// The caseworker UI in a real headless Chromium against the running pipeline: sign in, filter
// the inbox, open a household, record a visit (refused first, naming the field), see the case
// closed and the snooze; the supervisor's statistics; English one click away; CSRF and session
// expiry refused; every page view on the audit trail. Screenshots go to docs/ui/ with SAFETYNET_UPDATE_SCREENSHOTS=1
// (internal/testshot).
func TestCaseworkerUI(t *testing.T) {
	chrome := kafkatest.Tool(t, "chromium", "chromium")
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	cfg := caseworkAPIConfig(t, p, c.Now,
		testCaller(t, "wang.fang", uiCaseworkerToken, api.RoleCaseworker, "420106"),
		testCaller(t, "li.supervisor", uiSupervisorToken, api.RoleSupervisor, ""))
	srv := uiServer(t, p, cfg, c.Now)

	// A: a leukaemia admission (warning by trigger) in 420106; B: an unemployed head (watch) in
	// 420106; C: the same as B in 420111, outside the caseworker's area.
	homes := []struct{ hid, area string }{{"H-UI-A", "420106003017"}, {"H-UI-B", "420106003018"}, {"H-UI-C", "420111001001"}}
	for i, hh := range homes {
		head, spouse, kid := id(71+3*i, 1985), id(72+3*i, 1987), id(73+3*i, 2015)
		reg := joined(head, hh.hid, date(1985, 3, 1), "M", "head", t0.AddDate(-5, 0, 0))
		reg["area_code"] = hh.area
		produce(t, addr, p.topics.Registry, reg,
			joined(spouse, hh.hid, date(1987, 3, 1), "F", "spouse", t0.AddDate(-5, 0, 0)),
			joined(kid, hh.hid, date(2015, 3, 1), "F", "child", t0.AddDate(-5, 0, 0)))
		produce(t, addr, p.topics.Employment, ev("employed", spouse, t0.AddDate(-2, 0, 0), rec{"monthly_wage": 3500}))
		if i == 0 {
			p.waitReady()
		}
		waitHousehold(t, p.store, hh.hid, func(h *household.Household) bool {
			return len(h.Persons) == 3 && h.Persons[keyOf(t, spouse)].Employment != nil
		})
		if i == 0 {
			produce(t, addr, p.topics.Hospital, ev("admitted", head, t0, rec{"admission_id": "A-UI-1", "icd10": "C92.0"}))
		} else {
			produce(t, addr, p.topics.Employment, ev("unemployed", head, t0, rec{"registered": true}))
		}
		waitHousehold(t, p.store, hh.hid, func(h *household.Household) bool { return h.Case(feed.CaseID(hh.hid, 1)) != nil })
	}
	caseA, caseB := feed.CaseID("H-UI-A", 1), feed.CaseID("H-UI-B", 1)

	// Without a browser: refusals.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp := get(t, noFollow, srv.URL+"/ui/", nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/signin") {
		t.Errorf("inbox without a session: %d → %q, want 303 to the sign-in", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := get(t, noFollow, srv.URL+"/ui/", http.Header{"Authorization": {"Bearer " + uiCaseworkerToken}}); resp.StatusCode != http.StatusOK {
		t.Errorf("inbox with a bearer token: %d, want 200", resp.StatusCode)
	}
	jar, _ := cookiejar.New(nil)
	browserless := &http.Client{Jar: jar, CheckRedirect: noFollow.CheckRedirect}
	signinCSRF(t, browserless, srv.URL) // a nonce cookie, and the form's token, which is not sent
	if resp := post(t, browserless, srv.URL+"/ui/signin", url.Values{"csrf": {"wrong"}, "token": {uiCaseworkerToken}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in with a wrong CSRF token: %d, want 403", resp.StatusCode)
	}
	form := signinCSRF(t, browserless, srv.URL)
	resp := post(t, browserless, srv.URL+"/ui/signin", url.Values{"csrf": {form}, "token": {uiCaseworkerToken}, "next": {"/ui/"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "safetynet_session" {
			sess = ck
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Secure {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP", sess)
	}
	for _, csrf := range []string{"", "0123456789abcdef0123456789abcdef"} {
		if resp := post(t, browserless, srv.URL+"/ui/cases/"+caseB+"/assign", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("assign with CSRF token %q: %d, want 403", csrf, resp.StatusCode)
		}
	}
	if h := waitHousehold(t, p.store, "H-UI-B", func(*household.Household) bool { return true }); h.Case(caseB).Assignee != "" {
		t.Errorf("a refused assign was applied: %+v", h.Case(caseB))
	}
	if resp := get(t, browserless, srv.URL+"/ui/households/H-UI-C", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("household outside the area: %d, want 404", resp.StatusCode)
	}
	if resp := get(t, browserless, srv.URL+"/ui/stats", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("statistics for a caseworker: %d, want 403", resp.StatusCode)
	}

	// In Chromium.
	ctx := browser(t, chrome)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		testshot.Save(t, "../../docs/ui", name, png)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__shown = 1`)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitFor polls for an element of the page that an action of do navigated to (a query
	// started before a navigation would keep watching the old document; do marks the old one).
	waitFor := func(what, sel string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__shown === undefined && document.readyState === "complete" && document.querySelector(`+"`"+sel+"`"+`) !== null`))
			if err == nil && ok {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.__shown) + " " + document.readyState + " " + document.body.innerText + " " + location.href`))
		t.Fatalf("%s: no %s on %s (%s %v)", what, sel, loc, v, err)
	}
	do("sign in page", chromedp.EmulateViewport(1100, 800), chromedp.Navigate(srv.URL+"/ui/"))
	waitFor("sign in page", "#token")
	do("sign in",
		chromedp.SendKeys(chromedp.CSS("#token"), uiCaseworkerToken), chromedp.Submit(chromedp.CSS("#token")))
	waitFor("sign in", "#cases")
	if n := count("#cases li"); n != 2 {
		t.Errorf("inbox shows %d cases, want 2 (A and B; C is outside the area)", n)
	}
	first := text("#cases li:first-child")
	if !strings.Contains(first, "H-UI-A") || !strings.Contains(first, "预警") || !regexp.MustCompile(`\p{Han}{4,}`).MatchString(text("#cases li:first-child .why")) {
		t.Errorf("first row %q: want the warning household A with its reasons in Chinese", first)
	}
	if strings.Contains(text("#cases"), "H-UI-C") {
		t.Error("the inbox shows a household outside the caseworker's area")
	}
	shot("inbox.png")
	do("filter", chromedp.SetValue(chromedp.CSS("#f-level"), "watch"), chromedp.Click(chromedp.CSS("#f-submit")))
	waitFor("filter", "#cases")
	if n, row := count("#cases li"), text("#cases"); n != 1 || !strings.Contains(row, "H-UI-B") {
		t.Errorf("level=watch shows %d rows: %q, want only B", n, row)
	}
	do("filter overdue", chromedp.SetValue(chromedp.CSS("#f-level"), ""), chromedp.SetValue(chromedp.CSS("#f-overdue"), "yes"),
		chromedp.Click(chromedp.CSS("#f-submit")))
	waitFor("filter overdue", "#empty")
	// The household: level, why and due date at the top, the action right there (phone-sized).
	do("inbox on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), chromedp.Navigate(srv.URL+"/ui/"))
	waitFor("inbox on a phone", "#cases")
	do("open household", chromedp.Click(chromedp.CSS(`#cases li[data-household="H-UI-A"] a`)))
	waitFor("open household", "#summary")
	if got := text("#level"); got != "预警" {
		t.Errorf("level badge %q, want 预警", got)
	}
	if why := text("#why"); !strings.Contains(why, "大病") {
		t.Errorf("why %q: want the critical-illness trigger in Chinese", why)
	}
	if due := text("#due"); !strings.Contains(due, "2026-") {
		t.Errorf("due %q: want a date", due)
	}
	if count("#record-visit") != 1 || count("#assign-me") != 1 || count("#dimensions svg rect.bar") != 6 {
		t.Errorf("household page: record-visit %d, assign-me %d, dimension bars %d", count("#record-visit"), count("#assign-me"), count("#dimensions svg rect.bar"))
	}
	if strings.Contains(text("body"), id(71, 1985)) {
		t.Error("the household page shows a full ID number")
	}
	shot("household.png")

	// Record a visit: aid granted without a programme is refused naming the field; then no need.
	do("visit form", chromedp.EmulateViewport(1100, 800), chromedp.Click(chromedp.CSS("#record-visit")))
	waitFor("visit form", "#visit-form")
	do("refused visit", chromedp.Click(chromedp.CSS("#outcome-aid_granted")), chromedp.Click(chromedp.CSS("#save-visit")))
	waitFor("refused visit", "#error")
	if e := text("#error"); !strings.Contains(e, "救助项目") {
		t.Errorf("refused visit says %q: want the field 救助项目 (program)", e)
	}
	do("fill visit", chromedp.Click(chromedp.CSS("#outcome-not_needed")), chromedp.SetValue(chromedp.CSS("#reason"), "family_support"),
		chromedp.SendKeys(chromedp.CSS("#note"), "子女每月资助，暂无困难"))
	shot("visit.png")
	do("save visit", chromedp.Click(chromedp.CSS("#save-visit")))
	waitFor("save visit", "#flash")
	if got := text("#case-status"); !strings.Contains(got, "已结案") {
		t.Errorf("case status after the visit %q, want 已结案 (closed)", got)
	}
	if got := text("#snooze"); !strings.Contains(got, "暂缓至") {
		t.Errorf("snooze %q: want the snooze the visit set", got)
	}
	if got := text("#timeline"); !strings.Contains(got, "无需救助") || !strings.Contains(got, "子女每月资助") || !strings.Contains(got, "wang.fang") {
		t.Errorf("timeline %q: want the visit, its note and its actor", got)
	}
	h := waitHousehold(t, p.store, "H-UI-A", func(*household.Household) bool { return true })
	if cs := h.Case(caseA); cs == nil || cs.Status != household.CaseClosed || cs.Outcome != feed.OutcomeNotNeeded || h.Casework.Snooze == nil {
		t.Errorf("the monitor's state after the visit: case %+v, snooze %+v", cs, h.Casework)
	}

	// English, then the supervisor's statistics.
	do("english", chromedp.Click(chromedp.CSS("a.lang")))
	waitFor("english", "#summary")
	if got := text("#level"); got != "Warning" {
		t.Errorf("level in English %q, want Warning", got)
	}
	do("back to chinese", chromedp.Click(chromedp.CSS("a.lang")))
	waitFor("back to chinese", "#summary")
	do("sign out", chromedp.Click(chromedp.CSS("button.link")))
	waitFor("sign out", "#token")
	do("supervisor sign-in", chromedp.Navigate(srv.URL+"/ui/signin?next=/ui/stats"))
	waitFor("supervisor sign-in", "#token")
	do("supervisor", chromedp.SendKeys(chromedp.CSS("#token"), uiSupervisorToken), chromedp.Submit(chromedp.CSS("#token")))
	waitFor("supervisor", "#chart-level")
	if n := count("#chart-level svg rect.bar"); n != 3 {
		t.Errorf("precision chart has %d bars, want one per level", n)
	}
	if n := count("#chart-area svg rect.bar"); n != 2 {
		t.Errorf("area chart has %d bars, want 2 (420106, 420111)", n)
	}
	if got := text("#figures"); !strings.Contains(got, "0%") {
		t.Errorf("figures %q: the no-need visit makes warning precision 0%%", got)
	}
	if n := count("#chart-week svg rect.bar"); n < 12 {
		t.Errorf("weekly chart has %d bars", n)
	}
	shot("stats.png")

	// Every page view is on the audit trail, with the household it showed.
	seen := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !(seen["ui.inbox"] && seen["ui.household H-UI-A"] && seen["ui.visit H-UI-A"] && seen["ui.stats"] && seen["ui.signin"]) {
		err := cfg.Trail.Audit(context.Background(), api.AuditQuery{}, func(r api.AuditRecord) bool {
			seen[strings.TrimSpace(r.Action+" "+r.HouseholdID)] = true
			seen[r.Action] = true
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{"ui.signin", "ui.inbox", "ui.household H-UI-A", "ui.visit_form H-UI-A", "ui.visit H-UI-A", "ui.stats"} {
		if !seen[want] {
			t.Errorf("audit trail has no %q record", want)
		}
	}

	// The session expires after 8 idle hours (injected clock).
	c.Set(c.Now().Add(8*time.Hour + time.Minute))
	if resp := get(t, browserless, srv.URL+"/ui/", nil); resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "m=expired") {
		t.Errorf("after 8h idle: %d → %q, want 303 to the sign-in saying the session expired", resp.StatusCode, resp.Header.Get("Location"))
	}

	// No audit trail, no page.
	broken := cfg
	broken.Auditor = failingAuditor{}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ab := api.New(broken, p.store, scorer.Default(), nil, logger)
	ub, _ := ui.New(ui.Config{API: ab, Logger: logger})
	rr := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/ui/households/H-UI-B", nil)
	req.Header.Set("Authorization", "Bearer "+uiCaseworkerToken)
	ub.ServeHTTP(rr, req)
	if body := rr.Body.String(); rr.Code != http.StatusServiceUnavailable || strings.Contains(body, `id="summary"`) || !strings.Contains(body, "审计记录无法写入") {
		t.Errorf("with the audit trail down: %d %s, want 503 saying why and nothing of the household", rr.Code, body)
	}
}

// failingAuditor is an audit trail that cannot be written.
type failingAuditor struct{}

func (failingAuditor) Record(context.Context, api.AuditRecord) error {
	return errors.New("audit topic unavailable")
}

// browser starts headless Chromium with a fresh profile and no network of its own.
func browser(t *testing.T, chrome string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("headless", true), chromedp.Flag("disable-background-networking", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signinCSRF loads the sign-in form (setting its nonce cookie) and returns its CSRF token.
func signinCSRF(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp := get(t, c, base+"/ui/signin", nil)
	b, _ := io.ReadAll(resp.Body)
	m := csrfField.FindSubmatch(b)
	if m == nil {
		t.Fatalf("sign-in form has no CSRF token: %s", b)
	}
	return string(m[1])
}

func get(t *testing.T, c *http.Client, u string, h http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func post(t *testing.T, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
