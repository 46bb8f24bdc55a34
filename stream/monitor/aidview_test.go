package monitor

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"safetynet/stream/api"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// The aid side of a household in the API and the UI, against the running pipeline: a household
// at a level with no application and no aid is flagged not_receiving_aid in its view, in the
// case list and with the 未享受救助 badge on its page and in the inbox; a submitted application
// lifts the flag. A household that hid a car has its false declaration confirmed, then receives
// dibao from an approved application: its page shows the aid, the review due date, and the
// false declaration with its date and expiry, in Chinese and English.
func TestAidOnTheHouseholdPage(t *testing.T) {
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	cfg := caseworkAPIConfig(t, p, c.Now,
		testCaller(t, "wang.fang", uiCaseworkerToken, api.RoleCaseworker, "420106"),
		testCaller(t, "li.supervisor", apiTestToken, api.RoleSupervisor, ""))
	srv := uiServer(t, p, cfg, c.Now)
	page := func(path string) string {
		t.Helper()
		resp := get(t, http.DefaultClient, srv.URL+path, http.Header{"Authorization": {"Bearer " + uiCaseworkerToken}})
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	getJSON := func(path string, out any) {
		t.Helper()
		resp := get(t, http.DefaultClient, srv.URL+path, http.Header{"Authorization": {"Bearer " + apiTestToken}})
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}

	// Both households: an unemployed head (watch), a spouse at work, a child.
	homes := []struct{ hid, area string }{{"H-NRA", "420106003021"}, {"H-FD", "420106003022"}}
	heads := map[string]string{}
	for i, hh := range homes {
		head, spouse, kid := id(301+3*i, 1985), id(302+3*i, 1987), id(303+3*i, 2015)
		heads[hh.hid] = head
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
		produce(t, addr, p.topics.Employment, ev("unemployed", head, t0, rec{"registered": true}))
		waitHousehold(t, p.store, hh.hid, func(h *household.Household) bool { return h.Case(feed.CaseID(hh.hid, 1)) != nil })
	}

	// Both at watch with no aid and no application: flagged.
	for _, hh := range homes {
		var v api.HouseholdView
		getJSON("/v1/households/"+hh.hid, &v)
		if !v.NotReceivingAid || v.Level != "watch" {
			t.Errorf("%s: level %s, not_receiving_aid %v; want watch and flagged", hh.hid, v.Level, v.NotReceivingAid)
		}
	}
	if body := page("/ui/households/H-NRA"); !strings.Contains(body, `id="not-receiving-aid"`) || !strings.Contains(body, "未享受救助") {
		t.Errorf("household page of H-NRA lacks the 未享受救助 badge")
	}
	if body := page("/ui/?status=active"); strings.Count(body, `class="badge nra"`) != 2 {
		t.Errorf("inbox: %d 未享受救助 badges, want 2", strings.Count(body, `class="badge nra"`))
	}

	// H-FD: a car registered before it applied declaring none → verification case; the
	// caseworker confirms the false declaration.
	head := heads["H-FD"]
	produce(t, addr, p.topics.Assets, ev(feed.VehicleRegistered, head, date(2025, 6, 1), rec{"asset_id": "VEH-FD-1", "value": 90000}))
	waitHousehold(t, p.store, "H-FD", func(h *household.Household) bool {
		n := 0
		for _, m := range h.Records(t0).Members {
			n += len(m.Vehicles)
		}
		return n == 1
	})
	produce(t, addr, p.topics.Applications,
		application("APP-FD-1", head, "H-FD", t0, []rec{{"person_id": head, "monthly_income": 0}}, 0, false))
	vcase := feed.VerificationCaseID("H-FD", "APP-FD-1")
	waitHousehold(t, p.store, "H-FD", func(h *household.Household) bool { return h.Case(vcase) != nil })
	var v api.HouseholdView
	getJSON("/v1/households/H-FD", &v)
	if v.NotReceivingAid {
		t.Error("H-FD is flagged not receiving aid while its application is pending")
	}
	visited := date(2026, 1, 3)
	c.Set(visited.Add(time.Hour))
	rv, _ := json.Marshal(caseRec("cms-fd-view-1", feed.CaseVisit, "H-FD", vcase, visited, rec{"visited_at": visited.Format(time.RFC3339),
		"outcome": feed.OutcomeFalseDeclarationConfirmed}))
	if err := cfg.Casework(t.Context(), []byte("H-FD"), rv); err != nil {
		t.Fatal(err)
	}
	waitHousehold(t, p.store, "H-FD", func(h *household.Household) bool { return len(h.ActiveFalseDeclarations(c.Now())) == 1 })

	// Then a second application, approved: dibao, a member able to work → review in six months.
	decided := date(2026, 1, 5)
	c.Set(decided.Add(time.Hour))
	produce(t, addr, p.topics.Applications,
		application("APP-FD-2", head, "H-FD", date(2026, 1, 4), []rec{{"person_id": head, "monthly_income": 0}}, 1, false),
		ev(feed.AppDecided, head, decided, rec{"household_id": "H-FD", "application_id": "APP-FD-2", "program": "dibao", "decision": "approved", "monthly_benefit": 800}))
	waitHousehold(t, p.store, "H-FD", func(h *household.Household) bool { return h.ReceivingAid() != nil })
	getJSON("/v1/households/H-FD", &v)
	if v.NotReceivingAid || v.ReceivingAid == nil || !v.ReceivingAid.ReviewDue.Equal(date(2026, 7, 5)) || len(v.FalseDeclarations) != 1 {
		t.Fatalf("H-FD view: not_receiving_aid %v, aid %+v, false declarations %+v", v.NotReceivingAid, v.ReceivingAid, v.FalseDeclarations)
	}
	expires := v.FalseDeclarations[0].ExpiresAt.Format(time.DateOnly)
	zh := page("/ui/households/H-FD?lang=zh")
	for _, want := range []string{`id="review-due"`, "2026-07-05", "下次复核", "自 2026-01-05 起领取", "经核实的虚假申报", "2026-01-03 认定，记录保留至 " + expires, "未申报车辆"} {
		if !strings.Contains(zh, want) {
			t.Errorf("H-FD page (zh) lacks %q", want)
		}
	}
	if strings.Contains(zh, `id="not-receiving-aid"`) {
		t.Error("H-FD page shows the 未享受救助 badge while it receives aid")
	}
	en := page("/ui/households/H-FD?lang=en")
	for _, want := range []string{"Next review", "2026-07-05", "Confirmed false declarations", "confirmed 2026-01-03, recorded until " + expires, "vehicle not declared"} {
		if !strings.Contains(en, want) {
			t.Errorf("H-FD page (en) lacks %q", want)
		}
	}

	// The case list flags H-NRA's case and not H-FD's.
	var list struct{ Cases []api.CaseItem }
	getJSON("/v1/cases?status=open", &list)
	flags := map[string]bool{}
	for _, it := range list.Cases {
		if it.Kind == household.KindAlert {
			flags[it.HouseholdID] = it.NotReceivingAid
		}
	}
	if !flags["H-NRA"] || flags["H-FD"] {
		t.Errorf("case list not_receiving_aid: %v; want H-NRA only", flags)
	}
	// H-NRA applies: the flag is lifted in the view and in the case list.
	produce(t, addr, p.topics.Applications,
		application("APP-NRA-1", heads["H-NRA"], "H-NRA", decided, []rec{{"person_id": heads["H-NRA"], "monthly_income": 0}}, 0, false))
	waitHousehold(t, p.store, "H-NRA", func(h *household.Household) bool { return h.Application("APP-NRA-1") != nil })
	getJSON("/v1/households/H-NRA", &v)
	getJSON("/v1/cases?status=open", &list)
	for _, it := range list.Cases {
		if it.HouseholdID == "H-NRA" && it.NotReceivingAid {
			t.Error("H-NRA's case still flagged after it applied")
		}
	}
	if v.NotReceivingAid {
		t.Error("H-NRA still flagged after it applied")
	}
}
