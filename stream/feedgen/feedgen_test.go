package feedgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"safetynet/stream/feedgen/wire"
)

var testStart = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

type fields struct {
	EventID     string   `json:"event_id"`
	PersonID    string   `json:"person_id"`
	HouseholdID string   `json:"household_id"`
	OccurredAt  string   `json:"occurred_at"`
	Type        string   `json:"type"`
	BirthDate   string   `json:"birth_date"`
	Sex         string   `json:"sex"`
	Relation    string   `json:"relation"`
	AdmissionID string   `json:"admission_id"`
	ICD10       string   `json:"icd10"`
	Critical    *bool    `json:"critical_illness"`
	TotalCost   *float64 `json:"total_cost"`
	Insured     *float64 `json:"insured_cost"`
	OutOfPocket *float64 `json:"out_of_pocket"`
}

func mustFields(t testing.TB, ev Event) fields {
	t.Helper()
	var f fields
	if err := json.Unmarshal(ev.Value, &f); err != nil {
		t.Fatalf("valid event %s does not decode: %v", ev.Value, err)
	}
	return f
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 42, Households: 2000, Start: testStart, MalformedRate: 0.01, DuplicateRate: 0.01, UnknownPersonRate: 0.01}
	a, b := New(cfg), New(cfg)
	ra, rb := a.Registry(), b.Registry()
	if len(ra) != len(rb) {
		t.Fatalf("registry lengths %d, %d", len(ra), len(rb))
	}
	for i := range ra {
		if !bytes.Equal(ra[i].Value, rb[i].Value) || !bytes.Equal(ra[i].Key, rb[i].Key) {
			t.Fatalf("registry event %d differs:\n%s\n%s", i, ra[i].Value, rb[i].Value)
		}
	}
	for i := range 30000 {
		ea, eb := a.Next(), b.Next()
		if !bytes.Equal(ea.Value, eb.Value) || !bytes.Equal(ea.Key, eb.Key) || ea.Feed != eb.Feed || ea.Reason != eb.Reason {
			t.Fatalf("event %d differs:\n%s\n%s", i, ea.Value, eb.Value)
		}
	}
	// Registry does not disturb the sequence, and another seed gives other events.
	c := New(Config{Seed: 43, Households: 2000, Start: testStart})
	d := New(cfg)
	same := 0
	for range 1000 {
		if bytes.Equal(c.Next().Value, d.Next().Value) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("seeds 42 and 43 share %d of 1000 events", same)
	}
}

func TestPopulationSize(t *testing.T) {
	g := New(Config{Seed: 1, Start: testStart})
	hh, people := g.Population()
	if hh != DefaultHouseholds {
		t.Errorf("households = %d, want %d", hh, DefaultHouseholds)
	}
	if people < 200_000 || people > 220_000 {
		t.Errorf("people = %d, want about 210,000", people)
	}
	reg := g.Registry()
	if len(reg) != people {
		t.Fatalf("registry has %d events, want %d", len(reg), people)
	}
	// Registry events are checked in full elsewhere (TestEventsValid); here, the whole
	// population: unique IDs, and the shape of the households.
	ids := make(map[string]bool, people)
	for i, ev := range reg {
		if ids[string(ev.Key)] {
			t.Fatalf("person %s joins twice", maskID(ev.Key))
		}
		ids[string(ev.Key)] = true
		if i%100 == 0 {
			if f := mustFields(t, ev); f.PersonID != string(ev.Key) || f.Type != "member_joined" {
				t.Fatalf("registry event %d: key %s, type %s", i, maskID(ev.Key), f.Type)
			}
		}
	}
	relations := make(map[string]int)
	elderlyAlone := 0
	for _, h := range g.households {
		for _, m := range h.members {
			relations[wire.Relations[g.persons[m].rel]]++
		}
		if len(h.members) == 1 && g.persons[h.members[0]].ageYears(g.ws) >= 60 {
			elderlyAlone++
		}
	}
	for _, rel := range wire.Relations {
		if relations[rel] == 0 {
			t.Errorf("no member with relation %q", rel)
		}
	}
	t.Logf("households %d, people %d, relations %v, elderly living alone %d", hh, people, relations, elderlyAlone)
	if frac := float64(elderlyAlone) / float64(hh); frac < 0.15 || frac > 0.40 {
		t.Errorf("elderly living alone: %.1f%% of households, want 15–40%%", 100*frac)
	}
}

// TestEventsValid checks every event against the test's own reading of the feed formats: valid
// events valid, malformed ones rejected with the reason they claim; and the life story rules:
// registry before other feeds, admissions before their discharge, event time advancing.
func TestEventsValid(t *testing.T) {
	cfg := Config{Seed: 7, Households: 4000, Start: testStart, MalformedRate: 0.03, DuplicateRate: 0.01, UnknownPersonRate: 0.005}
	g := New(cfg)
	now := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) // birth after occurred_at is checked below
	registered := map[string]bool{}
	for _, ev := range g.Registry() {
		if err := validateEvent(ev.Feed, ev.Value, now); err != nil {
			t.Fatalf("registry event %s: %v", ev.Value, err)
		}
		f := mustFields(t, ev)
		if string(ev.Key) != f.PersonID || f.Type != "member_joined" {
			t.Fatalf("registry event %s: key %q", ev.Value, ev.Key)
		}
		at, _ := time.Parse(time.RFC3339, f.OccurredAt)
		if born, _ := time.Parse(time.DateOnly, f.BirthDate); at.Before(born) || f.PersonID[6:14] != born.Format("20060102") {
			t.Fatalf("registry event %s: joined before birth, or birth date not the ID's", ev.Value)
		}
		if !at.Before(testStart.Add(-History)) {
			t.Fatalf("registry event %s dated after the change events begin", ev.Value)
		}
		registered[f.PersonID] = true
	}

	const n = 50_000
	reasons := map[string]int{}
	types := map[string]int{}
	seen := map[string][]byte{}
	admitted := map[string]string{}
	var last time.Time
	var malformed, dups, unknown, critical int
	for i := range n {
		ev := g.Next()
		err := validateEvent(ev.Feed, ev.Value, now)
		if ev.Malformed {
			malformed++
			var v *validation
			if !errors.As(err, &v) {
				t.Fatalf("event %d %s claims %s but is valid", i, ev.Value, ev.Reason)
			}
			if v.reason != ev.Reason {
				t.Errorf("event %d %s: reason %s, generator says %s", i, ev.Value, v, ev.Reason)
			}
			reasons[ev.Reason]++
			continue
		}
		if err != nil {
			t.Fatalf("event %d %s on %s: %v", i, ev.Value, ev.Feed, err)
		}
		f := mustFields(t, ev)
		if string(ev.Key) != f.PersonID {
			t.Fatalf("key %q is not the person_id of %s", ev.Key, ev.Value)
		}
		if ev.Duplicate {
			dups++
			if prev, ok := seen[f.EventID]; !ok || !bytes.Equal(prev, ev.Value) {
				t.Fatalf("resend %s does not repeat an earlier event", ev.Value)
			}
			continue
		}
		if _, ok := seen[f.EventID]; ok {
			t.Fatalf("event id %s used twice: %s", f.EventID, ev.Value)
		}
		seen[f.EventID] = ev.Value
		if ev.UnknownPerson {
			unknown++
			if registered[f.PersonID] {
				t.Fatalf("unknown-person event names a registered person")
			}
			continue
		}
		types[ev.Feed+"/"+f.Type]++
		at, _ := time.Parse(time.RFC3339, f.OccurredAt)
		if at.Before(last) {
			t.Fatalf("occurred_at goes back: %s after %s", at, last)
		}
		last = at
		if ev.Feed == "registry" && f.Type == "member_joined" {
			registered[f.PersonID] = true
		}
		if !registered[f.PersonID] {
			t.Fatalf("event %s names a person the registry has not", ev.Value)
		}
		if born, _ := time.Parse("20060102", f.PersonID[6:14]); at.Before(born) {
			t.Fatalf("event %s before the person's birth", ev.Value)
		}
		switch f.Type {
		case "admitted":
			if f.Critical != nil && *f.Critical {
				critical++
			}
			admitted[f.AdmissionID] = f.PersonID
		case "discharged":
			if admitted[f.AdmissionID] != f.PersonID {
				t.Fatalf("discharge %s without its admission", ev.Value)
			}
			delete(admitted, f.AdmissionID)
			if f.TotalCost == nil || f.Insured == nil || f.OutOfPocket == nil {
				t.Fatalf("discharge without costs: %s", ev.Value)
			}
			if d := *f.TotalCost - *f.Insured - *f.OutOfPocket; d > 0.005 || d < -0.005 {
				t.Errorf("costs do not add up: %s", ev.Value)
			}
		}
	}
	for feed, ts := range feedTypes {
		for _, typ := range ts {
			if types[feed+"/"+typ] == 0 {
				t.Errorf("no %s event of type %s in %d", feed, typ, n)
			}
		}
	}
	for _, r := range []string{ReasonMalformedJSON, ReasonMissingField, ReasonBadType, ReasonBadValue, ReasonBadPersonID, ReasonBadTime, ReasonUnknownType} {
		if reasons[r] == 0 {
			t.Errorf("no malformed event with reason %s", r)
		}
	}
	if critical == 0 {
		t.Error("no critical-illness admission")
	}
	t.Logf("types %v", types)
	t.Logf("malformed %d %v, resends %d, unknown persons %d, critical admissions %d, simulated clock %s",
		malformed, reasons, dups, unknown, critical, g.Now().Format(time.DateOnly))
	for _, c := range []struct {
		name string
		got  int
		rate float64
	}{
		{"malformed", malformed, cfg.MalformedRate},
		{"duplicates", dups, cfg.DuplicateRate},
		{"unknown persons", unknown, cfg.UnknownPersonRate},
	} {
		want := c.rate * n
		if float64(c.got) < 0.8*want || float64(c.got) > 1.2*want {
			t.Errorf("%s: %d in %d events, want about %.0f", c.name, c.got, n, want)
		}
	}
}

func TestDefaultRates(t *testing.T) {
	g := New(Config{Seed: 3, Households: 1000, Start: testStart})
	c := g.Config()
	if c.MalformedRate != DefaultMalformedRate || c.DuplicateRate != DefaultDuplicateRate || c.UnknownPersonRate != DefaultUnknownPersonRate ||
		c.MisstatementRate != DefaultMisstatementRate || c.NoAssets || c.NoApplications {
		t.Errorf("defaults: got %+v", c)
	}
	clean := New(Config{Seed: 3, Households: 1000, Start: testStart, MalformedRate: -1, DuplicateRate: -1, UnknownPersonRate: -1})
	for i := range 20000 {
		if ev := clean.Next(); ev.Malformed || ev.Duplicate || ev.UnknownPerson {
			t.Fatalf("event %d of a clean feed is %+v", i, ev)
		}
	}
}

func TestResidentIDs(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		// Check digits computed by hand from the GB 11643 weights.
		{"the standard's example", "11010519491231002X", true},
		{"wrong check digit", "110105194912310021", false},
		{"valid, digit check", "420106198001010015", true},
		{"impossible date", "420106198002300016", false},
		{"17 characters", "11010519491231002", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gb11643Valid(tt.id, testStart); got != tt.want {
				t.Errorf("gb11643Valid(%s) = %v, want %v", tt.id, got, tt.want)
			}
			if len(tt.id) == 18 {
				if got := wire.CheckChar([]byte(tt.id)) == tt.id[17]; got != tt.want && tt.name != "impossible date" {
					t.Errorf("checkChar(%s) agrees = %v, want %v", tt.id, got, tt.want)
				}
			}
		})
	}
	var id [18]byte
	birth := int32(wire.DaysFromCivil(1949, 12, 31))
	wire.MakeID(&id, "110105", birth, 2)
	if got := string(id[:]); got != "11010519491231002X" {
		t.Errorf("makeID = %s, want 11010519491231002X", got)
	}
	if got := maskID(id[:]); got != "110105***********X" {
		t.Errorf("maskID = %s", got)
	}
}

func TestCivilDates(t *testing.T) {
	for d := int64(-30000); d < 40000; d += 37 {
		want := time.Unix(d*secondsPerDay, 0).UTC()
		y, m, dd := wire.Civil(d)
		if y != want.Year() || m != int(want.Month()) || dd != want.Day() {
			t.Fatalf("civil(%d) = %d-%d-%d, want %s", d, y, m, dd, want)
		}
		if got := wire.DaysFromCivil(y, m, dd); got != d {
			t.Fatalf("daysFromCivil(%d-%d-%d) = %d, want %d", y, m, dd, got, d)
		}
	}
	ts := time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC).Unix()
	if got := string(wire.AppendRFC3339(nil, ts)); got != "2024-03-01T07:59:58+08:00" {
		t.Errorf("appendRFC3339 = %s", got)
	}
}

func TestAmounts(t *testing.T) {
	for _, tt := range []struct {
		x    float64
		want string
	}{{3120, "3120"}, {3120.5, "3120.5"}, {88.25, "88.25"}, {0.07, "0.07"}, {1234.5700000000002, "1234.57"}, {-12.3, "-12.3"}} {
		if got := string(wire.AppendAmount(nil, tt.x)); got != tt.want {
			t.Errorf("appendAmount(%v) = %s, want %s", tt.x, got, tt.want)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Config{Seed: 1, Start: testStart})
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int
	for b.Loop() {
		bytes += len(g.Next().Value)
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "B/event")
}

func BenchmarkRegistry(b *testing.B) {
	g := New(Config{Seed: 1, Start: testStart})
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Registry()
	}
}
