package monitor

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"safetynet/scorer"
	"safetynet/stream/api"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// The casework API against the running pipeline: actions answer once applied, invalid ones get
// 4xx naming the field, the list filters and pages, overdue appears after the deadline (injected
// clock), and the statistics equal a hand count.
func TestCaseworkAPI(t *testing.T) {
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	reg := prometheus.NewRegistry()
	reg.MustRegister(api.NewCaseCollector(p.store, c.Now))
	cfg := caseworkAPIConfig(t, p, c.Now, testCaller(t, "supervisor", apiTestToken, api.RoleSupervisor, ""))
	srv := httptest.NewServer(api.New(cfg, p.store, scorer.Default(), reg, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	call := func(method, path, body string, out any) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiTestToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil && resp.StatusCode < 300 {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
		return resp.StatusCode, string(b)
	}

	// Three households raise a watch alert each (an unemployed head, a spouse at work).
	hids := []string{"H-API-A", "H-API-B", "H-API-C"}
	for i, hid := range hids {
		a, b, k := id(51+3*i, 1985), id(52+3*i, 1987), id(53+3*i, 2015)
		produce(t, addr, p.topics.Registry,
			joined(a, hid, date(1985, 3, 1), "M", "head", t0.AddDate(-5, 0, 0)),
			joined(b, hid, date(1987, 3, 1), "F", "spouse", t0.AddDate(-5, 0, 0)),
			joined(k, hid, date(2015, 3, 1), "F", "child", t0.AddDate(-5, 0, 0)))
		produce(t, addr, p.topics.Employment, ev("employed", b, t0.AddDate(-2, 0, 0), rec{"monthly_wage": 3500}))
		if i == 0 {
			p.waitReady()
		}
		waitHousehold(t, p.store, hid, func(h *household.Household) bool {
			return len(h.Persons) == 3 && h.Persons[keyOf(t, b)].Employment != nil
		})
		produce(t, addr, p.topics.Employment, ev("unemployed", a, t0, rec{"registered": true}))
		waitHousehold(t, p.store, hid, func(h *household.Household) bool { return h.Case(feed.CaseID(hid, 1)) != nil })
	}
	caseA, caseB, caseC := feed.CaseID(hids[0], 1), feed.CaseID(hids[1], 1), feed.CaseID(hids[2], 1)

	// Invalid actions: 4xx naming the field.
	for _, tc := range []struct {
		path, body string
		code       int
		field      string
	}{
		{"/v1/cases/H-NONE-1/assign", `{"assignee":"wang"}`, 404, "case_id"},
		{"/v1/cases/" + caseA + "/assign", `{}`, 400, "assignee"},
		{"/v1/cases/" + caseA + "/visit", `{"visited_at":"2026-01-02T00:00:00Z","outcome":"fine"}`, 400, "outcome"},
		{"/v1/cases/" + caseA + "/visit", `{"visited_at":"2026-01-02T00:00:00Z","outcome":"aid_granted"}`, 400, "program"},
		{"/v1/cases/" + caseA + "/visit", `{"visited_at":"last week","outcome":"referred"}`, 400, "visited_at"},
		{"/v1/cases/" + caseA + "/close", `{"reason":"other","note":"ID 11010519491231002X"}`, 400, "note"},
	} {
		code, body := call("POST", tc.path, tc.body, nil)
		var e struct{ Error, Field string }
		_ = json.Unmarshal([]byte(body), &e)
		if code != tc.code || e.Field != tc.field || !strings.Contains(e.Error, tc.field) {
			t.Errorf("POST %s %s: %d %s, want %d naming %s", tc.path, tc.body, code, body, tc.code, tc.field)
		}
		if strings.Contains(body, "11010519491231002X") {
			t.Errorf("the answer echoes an ID number: %s", body)
		}
	}

	// assign → visit (aid_granted) on A: each answers with the applied case.
	var cv api.CaseView
	if code, body := call("POST", "/v1/cases/"+caseA+"/assign", `{"assignee":"王芳"}`, &cv); code != 200 || cv.Assignee != "王芳" || cv.Status != household.CaseAssigned {
		t.Fatalf("assign: %d %s", code, body)
	}
	if code, body := call("POST", "/v1/cases/"+caseA+"/visit", `{"visited_at":"2026-01-02T06:00:00Z","outcome":"aid_granted","program":"dibao","note":"已申请低保"}`, &cv); code != 200 || cv.Status != household.CaseClosed || cv.Outcome != feed.OutcomeAidGranted {
		t.Fatalf("visit: %d %s", code, body)
	}
	if len(cv.Actions) != 2 || len(cv.Alerts) != 1 || cv.Actions[1].Note != "已申请低保" {
		t.Errorf("timeline: %d actions, %d alerts: %+v", len(cv.Actions), len(cv.Alerts), cv.Actions)
	}
	var hv api.HouseholdView
	if call("GET", "/v1/households/"+hids[0], "", &hv); hv.ReceivingAid == nil || hv.ReceivingAid.Program != "dibao" {
		t.Errorf("household view receiving_aid: %+v", hv.ReceivingAid)
	}
	if code, body := call("POST", "/v1/cases/"+caseA+"/assign", `{"assignee":"li"}`, nil); code != 409 || !strings.Contains(body, "case_id") {
		t.Errorf("action on a closed case: %d %s", code, body)
	}
	// B: unreachable (stays open); C: a supervisor closes it.
	if code, body := call("POST", "/v1/cases/"+caseB+"/visit", `{"visited_at":"2026-01-02T12:00:00Z","outcome":"unreachable"}`, &cv); code != 200 || cv.Status != household.CaseOpen {
		t.Fatalf("unreachable visit: %d %s", code, body)
	}
	if code, body := call("POST", "/v1/cases/"+caseC+"/close", `{"reason":"handled_elsewhere"}`, &cv); code != 200 || cv.ClosedAs != household.ClosedBySupervisor {
		t.Fatalf("close: %d %s", code, body)
	}

	// The list: filters, pages (newest first), overdue after the watch deadline.
	type page struct {
		Cases      []api.CaseItem `json:"cases"`
		NextCursor string         `json:"next_cursor"`
	}
	var pg page
	call("GET", "/v1/cases?status=closed", "", &pg)
	if len(pg.Cases) != 2 {
		t.Errorf("closed cases: %+v", pg.Cases)
	}
	var all []string
	cursor := ""
	for range 5 {
		pg = page{}
		call("GET", "/v1/cases?limit=2&cursor="+cursor, "", &pg)
		for _, it := range pg.Cases {
			all = append(all, it.CaseID)
		}
		if cursor = pg.NextCursor; cursor == "" {
			break
		}
	}
	if strings.Join(all, ",") != caseC+","+caseB+","+caseA {
		t.Errorf("paged list %v, want newest first %s,%s,%s", all, caseC, caseB, caseA)
	}
	pg = page{}
	call("GET", "/v1/cases?status=overdue", "", &pg)
	if len(pg.Cases) != 0 {
		t.Errorf("overdue before the deadline: %+v", pg.Cases)
	}
	if got := testutil.ToFloat64(gaugeOf(t, reg, "safetynet_cases_overdue", "watch")); got != 0 {
		t.Errorf("safetynet_cases_overdue{level=watch} %v before the deadline", got)
	}
	c.Set(t0.Add(24*time.Hour + 31*24*time.Hour))
	pg = page{}
	call("GET", "/v1/cases?status=overdue", "", &pg)
	if len(pg.Cases) != 1 || pg.Cases[0].CaseID != caseB || !pg.Cases[0].Overdue {
		t.Errorf("overdue after the deadline: %+v, want %s alone", pg.Cases, caseB)
	}
	if got := testutil.ToFloat64(gaugeOf(t, reg, "safetynet_cases_overdue", "watch")); got != 1 {
		t.Errorf("safetynet_cases_overdue{level=watch} = %v, want 1", got)
	}
	if code, body := call("GET", "/v1/cases?status=late", "", nil); code != 400 || !strings.Contains(body, "status") {
		t.Errorf("bad status filter: %d %s", code, body)
	}

	// Statistics, by hand: three watch cases opened; A and B visited; A confirmed (aid_granted),
	// B unreachable and overdue now; C closed by a supervisor without a visit.
	var st api.Stats
	if code, body := call("GET", "/v1/stats", "", &st); code != 200 {
		t.Fatalf("stats: %d %s", code, body)
	}
	tot := st.Total
	if tot.Opened != 3 || tot.Visited != 2 || tot.Confirmed != 1 || tot.Unreachable != 1 || tot.NotNeeded != 0 || tot.Overdue != 1 {
		t.Errorf("stats total %+v", tot)
	}
	// Opened at the clock (t0+24h); visited at t0+30h and t0+36h: 0.25 and 0.5 days, median 0.375 → 0.4.
	if m := tot.MedianDaysToVisit; m == nil || *m != 0.4 {
		t.Errorf("median days to visit %v, want 0.4", m)
	}
	if len(st.ByLevel) != 3 || st.ByLevel[0].Key != "watch" || st.ByLevel[0].Opened != 3 || st.ByLevel[1].Opened != 0 {
		t.Errorf("by level %+v", st.ByLevel)
	}
}

// gaugeOf returns the gauge metric name{level} gathered from reg.
func gaugeOf(t *testing.T, reg *prometheus.Registry, name, level string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "level" && l.GetValue() == level {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
					g.Set(m.GetGauge().GetValue())
					return g
				}
			}
		}
	}
	t.Fatalf("no %s{level=%q}", name, level)
	return nil
}
