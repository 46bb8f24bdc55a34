package feedgen

import (
	"slices"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/stream/feed"
	hh "safetynet/stream/household"
)

// TestDeclarationsCheck runs the generated feeds through intake's decoder and pseudonymiser
// into the monitor's household state (stream/household) and checks every submitted application
// with the declaration check the monitor runs (Household.CheckApplication, the built-in model's
// thresholds): true declarations come out consistent, nearly all of them; every misstated one
// comes out with the discrepancy of what it hides.
func TestDeclarationsCheck(t *testing.T) {
	ps, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	g := New(Config{Seed: 11, Households: 6000, Start: testStart, MalformedRate: -1, DuplicateRate: -1, UnknownPersonRate: -1})
	model := scorer.Default()
	now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	households := map[string]*hh.Household{}
	home := map[string]string{} // person key → household ("" once left)
	apply := func(ev Event) *hh.Household {
		r, derr := feed.Decode(ev.Feed, ev.Value, 64<<10, 24*time.Hour, now)
		if derr != nil {
			t.Fatalf("%s refused: %v", ev.Value, derr)
		}
		e := ps.Apply(r)
		hid := e.HouseholdID
		if hid == "" {
			hid = home[e.PersonKey]
		}
		if hid == "" {
			return nil // intake would park it: its person left every household
		}
		if e.Feed == feed.Registry {
			switch e.Type {
			case "member_joined":
				home[e.PersonKey] = hid
			case "member_left":
				home[e.PersonKey] = ""
			}
		}
		h := households[hid]
		if h == nil {
			h = hh.New(hid, 0)
			households[hid] = h
		}
		if _, err := h.Apply(&e); err != nil {
			t.Fatalf("apply %s: %v", ev.Value, err)
		}
		return h
	}
	for _, ev := range g.Registry() {
		apply(ev)
	}
	want := map[string]string{
		MisstatedWage:     "income_understated",
		MisstatedVehicle:  "vehicle_undeclared",
		MisstatedBusiness: "business_undeclared",
		MisstatedDeposits: "financial_assets_understated",
	}
	var apps, misstated, trueOK int
	trueCodes := map[string]int{}
	kinds := map[string]int{}
	decisions := map[string]int{}
	until := testStart.Add(365 * 24 * time.Hour)
	for g.Now().Before(until) {
		ev := g.Next()
		h := apply(ev)
		if ev.Feed != feed.Applications || h == nil {
			continue
		}
		r, _ := feed.Decode(ev.Feed, ev.Value, 64<<10, 24*time.Hour, now)
		if r.Event.Type == feed.AppDecided {
			decisions[r.Event.Application.Decision]++
		}
		if r.Event.Type != feed.AppSubmitted {
			continue
		}
		apps++
		v := h.CheckApplication(model, r.Event.Application.ApplicationID, now)
		if v == nil {
			t.Fatalf("application %s: no check", r.Event.Application.ApplicationID)
		}
		var codes []string
		for _, d := range v.Discrepancies {
			codes = append(codes, d.Code)
		}
		if ev.Misstated == "" {
			if v.Result == "consistent" {
				trueOK++
			}
			for _, c := range codes {
				trueCodes[c]++
			}

			continue
		}
		misstated++
		kinds[ev.Misstated]++
		if v.Result != "discrepancies" || !slices.Contains(codes, want[ev.Misstated]) {
			t.Errorf("application %s hides %s: check says %s %v", r.Event.Application.ApplicationID, ev.Misstated, v.Result, codes)
		}
	}
	truthful := apps - misstated
	t.Logf("%d households: %d applications to %s, %d misstated %v; true ones consistent %d of %d, their discrepancies %v; decisions %v",
		len(households), apps, until.Format(time.DateOnly), misstated, kinds, trueOK, truthful, trueCodes, decisions)
	if apps < 300 {
		t.Fatalf("%d applications by %s, want hundreds", apps, until.Format(time.DateOnly))
	}
	if share := float64(misstated) / float64(apps); share < 0.15 || share > 0.25 {
		t.Errorf("misstated share %.3f, want about the configured 0.2", share)
	}
	for k := range want {
		if kinds[k] == 0 {
			t.Errorf("no application %s", k)
		}
	}
	if ok := float64(trueOK) / float64(truthful); ok < 0.95 {
		t.Errorf("only %.1f%% of true declarations consistent", 100*ok)
	}
	if decisions["approved"] == 0 || decisions["rejected"] == 0 {
		t.Errorf("decisions %v", decisions)
	}
}

// The new feeds can be switched off, and the misstatement rate with them.
func TestFeedSwitches(t *testing.T) {
	count := func(cfg Config) map[string]int {
		cfg.Seed, cfg.Households, cfg.Start = 4, 3000, testStart
		g := New(cfg)
		n := map[string]int{}
		for range 40_000 {
			ev := g.Next()
			n[ev.Feed]++
			if ev.Misstated != "" {
				n["misstated"]++
			}
		}
		return n
	}
	on := count(Config{})
	if on[feed.Assets] == 0 || on[feed.Applications] == 0 || on["misstated"] == 0 {
		t.Fatalf("default: %v, want assets, applications and misstatements", on)
	}
	if n := count(Config{NoAssets: true, NoApplications: true}); n[feed.Assets]+n[feed.Applications] > 0 {
		t.Errorf("both off: %v", n)
	}
	if n := count(Config{NoAssets: true}); n[feed.Assets] > 0 || n[feed.Applications] == 0 {
		t.Errorf("assets off: %v", n)
	}
	if n := count(Config{NoApplications: true}); n[feed.Applications] > 0 || n[feed.Assets] == 0 {
		t.Errorf("applications off: %v", n)
	}
	if n := count(Config{MisstatementRate: -1}); n["misstated"] > 0 || n[feed.Applications] == 0 {
		t.Errorf("no misstatements: %v", n)
	}
	t.Logf("default, per feed in 40,000 events: %v", on)
}
