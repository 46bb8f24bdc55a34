package household

import (
	"bytes"
	"math"
	"slices"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/stream/feed"
)

// Version 6 writes a fact's type as a code, only the strings it sets, and whole amounts as
// varints: every fact reads back exactly, whatever its type (one the table lacks is written
// out), its strings, and its amounts (fractions, -0, the largest whole numbers, infinities and
// NaN keep their bits).
func TestFactVersion6RoundTrip(t *testing.T) {
	at := time.Date(2025, 2, 10, 18, 26, 25, 0, time.UTC)
	amounts := []float64{0, math.Copysign(0, -1), 1, -1, 2395, 105200, 3100.5, -42.25, 1<<53 - 1, -(1<<53 - 1), 1 << 53, -(1 << 53),
		1e300, -1e300, math.Inf(1), math.Inf(-1), math.NaN(), math.SmallestNonzeroFloat64, 0.1}
	var facts []Fact
	for i, a := range amounts {
		facts = append(facts, Fact{At: at.Add(time.Duration(i) * time.Minute), ID: "ast-" + string(rune('a'+i)),
			Type: factTypes.names[i%len(factTypes.names)], Value: &a, Balance: &amounts[len(amounts)-1-i], MonthlyWage: &a})
	}
	strs := []Fact{
		{Type: "member_joined", Sex: "F", Relation: "head", AreaCode: "420106001001"},
		{Type: "admitted", AdmissionID: "A-7", ICD10: "C34.9"},
		{Type: "registered", Kind: "visual"},
		{Type: "a_type_of_a_future_feed", Sex: "M", Kind: "k"}, // not in the table: written out
		{Type: ""},
	}
	for i, f := range strs {
		f.At, f.ID = at.Add(time.Duration(i)*time.Hour), "x"+string(rune('a'+i))
		facts = append(facts, f)
	}
	h := New("H1", 0)
	h.Persons["p"] = &Person{Masked: "420106***********4", Assets: facts}
	b, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != householdBinaryV6 {
		t.Fatalf("Encode wrote version %d", b[0])
	}
	for name, decode := range map[string]func([]byte) (*Household, error){"Decode": Decode, "DecodeImmutable": DecodeImmutable} {
		got, err := decode(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gf := got.Persons["p"].Assets
		if len(gf) != len(facts) {
			t.Fatalf("%s: %d facts, want %d", name, len(gf), len(facts))
		}
		for i := range facts {
			w, g := facts[i], gf[i]
			if g.Type != w.Type || g.ID != w.ID || !g.At.Equal(w.At) || g.Sex != w.Sex || g.Relation != w.Relation ||
				g.AdmissionID != w.AdmissionID || g.ICD10 != w.ICD10 || g.Kind != w.Kind || g.AreaCode != w.AreaCode {
				t.Errorf("%s: fact %d read as %+v, want %+v", name, i, g, w)
			}
			for _, p := range [][2]*float64{{w.Value, g.Value}, {w.Balance, g.Balance}, {w.MonthlyWage, g.MonthlyWage}} {
				if (p[0] == nil) != (p[1] == nil) || p[0] != nil && math.Float64bits(*p[0]) != math.Float64bits(*p[1]) {
					t.Errorf("%s: fact %d: an amount read as %v, want %v", name, i, deref(p[1]), deref(p[0]))
				}
			}
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// A whole amount takes a few bytes and a fraction nine; a fact of a known type with no strings
// takes the type's code and one byte for its strings. The benchmark's households are about a
// quarter smaller than in version 5 (docs/performance.md).
func TestFactVersion6IsSmaller(t *testing.T) {
	for _, c := range []struct {
		amount float64
		size   int
	}{{0, 1}, {2395, 2}, {105200, 3}, {-3, 1}, {3100.5, 9}, {math.Copysign(0, -1), 9}} {
		if got := len(appendAmount(nil, c.amount)); got != c.size {
			t.Errorf("amount %v takes %d bytes, want %d", c.amount, got, c.size)
		}
	}
	wage := 3070.0
	f := Fact{At: time.Date(2025, 2, 24, 3, 32, 15, 0, time.UTC), ID: "emp-1cc520-000087333", Type: "employed", MonthlyWage: &wage}
	v5, v6 := len(appendFact(nil, &f, "", householdBinaryV5)), len(appendFact(nil, &f, "", householdBinaryV6))
	if v5-v6 < 17 {
		t.Errorf("an employment fact takes %d bytes in version 6, %d in version 5: want at least 17 fewer", v6, v5)
	}
	// after a fact of the same feed, only the end of its id
	if next := len(appendFact(nil, &f, "emp-1cc520-000012345", householdBinaryV6)); v6-next != 15 {
		t.Errorf("a fact after one whose id shares 15 bytes takes %d bytes, %d alone: want 15 fewer", next, v6)
	}
}

// Version 6 writes each fact id as the length it shares with the id before it in its list and
// the rest: ids that share nothing, a start, all of the one before, or are the start of it, read
// back exactly in every decoder; a value claiming to share more than the id before it has is
// refused.
func TestFactIDsVersion6(t *testing.T) {
	ids := []string{"emp-1cc520-000087333", "emp-1cc520-000196865", "emp-1cc520-000196865", "emp-1cc520", "x", "", "人口-甲", "人口-乙", "emp-1cc520-000196866"}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var facts []Fact
	for i, id := range ids {
		facts = append(facts, Fact{At: at.Add(time.Duration(i) * time.Hour), ID: id, Type: "employed"})
	}
	h := New("H1", 0)
	h.Persons["p"] = &Person{Employment: facts, Pension: []Fact{{At: at, ID: "emp-1cc520-000087333", Type: "started"}}}
	b, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	for name, decode := range map[string]func([]byte) (*Household, error){"Decode": Decode, "DecodeImmutable": DecodeImmutable} {
		got, err := decode(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var gotIDs []string
		for _, f := range got.Persons["p"].Employment {
			gotIDs = append(gotIDs, f.ID)
		}
		if !slices.Equal(gotIDs, ids) || got.Persons["p"].Pension[0].ID != "emp-1cc520-000087333" {
			t.Errorf("%s: ids %q, want %q (and the next list's own)", name, gotIDs, ids)
		}
	}
	if _, err := DecodeSummary(b); err != nil {
		t.Errorf("DecodeSummary: %v", err)
	}
	// the first fact of a list shares nothing: make it claim one byte
	one := New("H1", 0)
	one.Persons["p"] = &Person{Employment: []Fact{{At: at, ID: "abc", Type: "employed"}}}
	good, _ := Encode(one)
	i := bytes.Index(good, []byte{0, 3, 'a', 'b', 'c'})
	if i < 0 {
		t.Fatal("the fact id is not where this test expects it")
	}
	bad := slices.Clone(good)
	bad[i] = 1
	for name, decode := range map[string]func([]byte) (*Household, error){"Decode": Decode, "DecodeImmutable": DecodeImmutable, "DecodeSummary": DecodeSummary} {
		if _, err := decode(bad); err == nil {
			t.Errorf("%s read a first fact id that shares a byte with nothing", name)
		}
	}
}

// Every type a feed of facts may send has a code, and the codes written so far keep their
// meaning: each table is only appended to, and no string has two codes.
func TestCodeTables(t *testing.T) {
	for name, c := range map[string]struct {
		table   codeTable
		written []string // the table as version 6 was first released: never reorder or remove
	}{
		"fact types": {factTypes, []string{
			"member_joined", "member_left", "died", "admitted", "discharged", "started", "changed", "suspended", "stopped",
			"employed", "unemployed", "registered", "revoked", "vehicle_registered", "vehicle_deregistered",
			"property_registered", "property_transferred", "business_registered", "business_deregistered",
			"deposits_reported", "provident_fund_paid",
		}},
		"alert statuses": {alertStatuses, []string{"raised", "escalated", "deescalated", "resolved"}},
		"alert levels":   {alertLevels, []string{"", "watch", "warning", "urgent"}},
	} {
		if len(c.table.names) < len(c.written) || !slices.Equal(c.table.names[:len(c.written)], c.written) {
			t.Errorf("%s changed the codes already written:\n got %q\nwant %q first", name, c.table.names, c.written)
		}
		if len(c.table.code) != len(c.table.names) {
			t.Errorf("%s: a string has two codes: %q", name, c.table.names)
		}
	}
	for _, fd := range feed.Feeds {
		if fd == feed.Applications { // declarations, not facts (cases_codec.go)
			continue
		}
		for _, ty := range feed.FeedTypes(fd) {
			if _, ok := factTypes.code[ty]; !ok {
				t.Errorf("feed %s type %q has no code: append it to factTypes", fd, ty)
			}
		}
	}
	for _, l := range []string{scorer.LevelNone, scorer.LevelWatch, scorer.LevelWarning, scorer.LevelUrgent} {
		if _, ok := alertLevels.code[l]; !ok {
			t.Errorf("level %q has no code", l)
		}
	}
}

// An alert entry's status and level are codes in version 6; a status or level the tables lack
// is written out, and a code past the table's end is refused, not read as some string.
func TestAlertEntryVersion6(t *testing.T) {
	at := time.Date(2026, 3, 1, 8, 0, 0, 5, time.UTC)
	for _, c := range [][2]string{{StatusRaised, "watch"}, {StatusResolved, ""}, {"a_later_status", "a_later_level"}} {
		b := appendAlertEntry(nil, "0ce988186af3de4ea3245d1635f45b42", c[0], c[1], 30.3, at, householdBinaryV6)
		d := decoder{b: b, version: householdBinaryV6}
		id, status, level, score, when := d.alertEntry()
		if d.err != nil || len(d.b) != 0 || id != "0ce988186af3de4ea3245d1635f45b42" || status != c[0] || level != c[1] || score != 30.3 || !when.Equal(at) {
			t.Errorf("%q read as %q %q %q %v %v (err %v, %d left)", c, id, status, level, score, when, d.err, len(d.b))
		}
	}
	old := appendAlertEntry(nil, "x", StatusRaised, "watch", 1, at, householdBinaryV5)
	if v6 := appendAlertEntry(nil, "x", StatusRaised, "watch", 1, at, householdBinaryV6); len(old)-len(v6) != 11 {
		t.Errorf("version 6 entry %d bytes, version 5 %d: want 11 fewer", len(v6), len(old))
	}
	bad := append(appendString(nil, "x"), byte(len(alertStatuses.names)+1))
	d := decoder{b: bad, version: householdBinaryV6}
	if d.alertEntry(); d.err == nil {
		t.Error("a status code past the table was read")
	}
}
