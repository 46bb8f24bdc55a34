package household

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"safetynet/stream/feed"
)

// worstCaseHousehold builds, through the feed decoder and the pseudonymiser (the intake path),
// a household of n persons each holding the most facts kept per feed, every identifier at the
// longest the decoder accepts, every optional field present, plus a full alert history.
func worstCaseHousehold(t testing.TB, n int) *Household {
	t.Helper()
	p, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	long := func(prefix string, i int) string { // MaxIDLen bytes, unique per prefix and i
		s := fmt.Sprintf("%s-%d-", prefix, i)
		return s + strings.Repeat("x", feed.MaxIDLen-len(s))
	}
	hid := long("H", 0)
	h := New(hid, 0)
	seq := 0
	apply := func(feedName string, fields map[string]any) {
		seq++
		fields["event_id"] = long("E", seq)
		fields["occurred_at"] = time.Date(2025, 1, 1, 0, 0, 0, 123456789, time.UTC).Add(time.Duration(seq) * time.Hour).Format(time.RFC3339Nano)
		raw, _ := json.Marshal(fields)
		r, derr := feed.Decode(feedName, raw, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, now)
		if derr != nil {
			t.Fatalf("%s event %s: %v", feedName, raw, derr)
		}
		e := p.Apply(r)
		e.HouseholdID = hid
		if _, err := h.Apply(&e); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		first17 := fmt.Sprintf("42010619491231%03d", i)
		id := first17 + string(feed.ResidentIDCheck(first17))
		for range keepRegistry {
			apply(feed.Registry, map[string]any{"person_id": id, "type": "member_joined", "household_id": hid,
				"birth_date": "1949-12-31", "sex": "F", "relation": "spouse", "area_code": "420106001001"})
		}
		for range keepEmployment {
			apply(feed.Employment, map[string]any{"person_id": id, "type": "employed", "monthly_wage": 123456789.25, "registered": true})
		}
		for range keepPension {
			apply(feed.Pension, map[string]any{"person_id": id, "type": "suspended", "monthly_amount": 123456789.25})
		}
		for range keepDisability {
			apply(feed.Disability, map[string]any{"person_id": id, "type": "registered", "grade": 4, "kind": long("K", seq)})
		}
		for range keepAdmissions {
			apply(feed.Hospital, map[string]any{"person_id": id, "type": "discharged", "admission_id": long("A", seq),
				"icd10": "C92.0ABC", "critical_illness": true, "total_cost": 123456789.25, "insured_cost": 123456789.25, "out_of_pocket": 123456789.25})
		}
	}
	if len(h.Persons) != n {
		t.Fatalf("built %d persons, want %d", len(h.Persons), n)
	}
	for _, pe := range h.Persons {
		if got := len(pe.Registry) + len(pe.Employment) + len(pe.Pension) + len(pe.Disability) + len(pe.Hospital); got != FactsPerPerson {
			t.Fatalf("person holds %d facts, want %d", got, FactsPerPerson)
		}
	}
	h.Level, h.Score, h.Episode, h.Open, h.Seq = "warning", 123.456, 1<<30, true, 1<<30
	h.BelowSince, h.NextCheck, h.AssessedAt = now, now, now
	h.ModelVersion = strings.Repeat("v", 256)
	for i := range keepAlertRefs + 5 {
		h.AddAlertRef(AlertRef{AlertID: AlertID(hid, i, i, StatusEscalated, "warning"), Status: StatusDeescalated, Level: "warning", Score: 99.5, EmittedAt: now})
	}
	return h
}

// TestWorstCaseHouseholdSize: a household at the highest configurable member cap, every person
// with every fact list full and every field at its longest, encodes to at most MaxEncodedSize,
// and one person's share is what docs/operations.md says.
func TestWorstCaseHouseholdSize(t *testing.T) {
	one, err := Encode(worstCaseHousehold(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	two, err := Encode(worstCaseHousehold(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	perPerson := len(two) - len(one)
	v, err := Encode(worstCaseHousehold(t, MaxMembersLimit))
	if err != nil {
		t.Fatal(err)
	}
	def, err := Encode(worstCaseHousehold(t, DefaultMaxMembers))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worst case: %d bytes per person, %d bytes at %d persons (default cap), %d bytes at %d persons (highest cap)",
		perPerson, len(def), DefaultMaxMembers, len(v), MaxMembersLimit)
	if len(v) > MaxEncodedSize {
		t.Errorf("worst-case household of %d persons encodes to %d bytes, want at most %d", MaxMembersLimit, len(v), MaxEncodedSize)
	}
	if perPerson < 10_000 || perPerson > 13_000 {
		t.Errorf("one worst-case person takes %d bytes; docs/operations.md says about 11.6 KB: update it", perPerson)
	}
	h, err := Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Persons) != MaxMembersLimit {
		t.Errorf("decoded %d persons, want %d", len(h.Persons), MaxMembersLimit)
	}
}
