package feed

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testID returns a valid resident ID number: address 420106, a birth date n days after
// 1950-01-01, sequence n%1000 and the computed check character.
func testID(n int) string {
	bd := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n)
	first := fmt.Sprintf("420106%s%03d", bd.Format("20060102"), n%1000)
	return first + string(ResidentIDCheck(first))
}

func TestResidentIDCheck(t *testing.T) {
	// The standard's own example numbers.
	for _, id := range []string{"11010519491231002X", "440524188001010014"} {
		if got := ResidentIDCheck(id[:17]); got != id[17] {
			t.Errorf("check of %s: got %c, want %c", Mask(id), got, id[17])
		}
	}
	if want := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}; idWeights != want { // GB 11643's table
		t.Errorf("weights: got %v, want %v", idWeights, want)
	}
	if _, err := CheckResidentID("11010519491231002X", testNow); err != nil {
		t.Errorf("CheckResidentID: %v", err)
	}
	// A correct check character but a birth year (1880) no living person has.
	if _, err := CheckResidentID("440524188001010014", testNow); err == nil || err.Reason != ReasonBadPersonID {
		t.Errorf("birth year 1880: got %v, want bad_person_id", err)
	}
	if got, err := CheckResidentID("11010519491231002x", testNow); err != nil || got != "11010519491231002X" {
		t.Errorf("lower-case x: got %q, %v; want normalised upper case", Mask(got), err)
	}
}

// event builds a feed record from fields; nil values are left out.
func event(fields map[string]any) []byte {
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return b
}

func base(typ string, extra map[string]any) map[string]any {
	m := map[string]any{"event_id": "e-1", "type": typ, "person_id": testID(1000), "occurred_at": "2025-05-01T08:00:00+08:00"}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func TestDecodeAcceptsEveryFeedAndType(t *testing.T) {
	tests := []struct {
		feed  string
		extra map[string]any
		check func(HouseholdEvent) string
	}{
		{Registry, map[string]any{"type": "member_joined", "household_id": "H1", "birth_date": "1952-09-27", "sex": "F", "relation": "head", "area_code": "420106001001", "unknown_field": 7},
			func(e HouseholdEvent) string {
				if e.AreaCode != "420106001001" {
					return "area_code " + e.AreaCode
				}
				if e.BirthDate == nil || e.BirthDate.Format("2006-01-02") != "1952-09-27" || e.Sex != "F" || e.Relation != "head" {
					return fmt.Sprintf("registry fields %v %q %q", e.BirthDate, e.Sex, e.Relation)
				}
				return ""
			}},
		{Registry, map[string]any{"type": "member_left", "household_id": "H1"},
			func(e HouseholdEvent) string {
				// Birth date and sex come from the ID number when absent: 1952-09-27, sequence 000.
				if e.BirthDate == nil || e.BirthDate.Format("2006-01-02") != "1952-09-27" || e.Sex != "F" {
					return fmt.Sprintf("derived birth date/sex: %v %q", e.BirthDate, e.Sex)
				}
				return ""
			}},
		{Registry, map[string]any{"type": "died", "household_id": "H1"}, nil},
		{Hospital, map[string]any{"type": "admitted", "admission_id": "A1", "icd10": "C92.0", "critical_illness": true},
			func(e HouseholdEvent) string {
				if e.ICD10 != "C92.0" || e.CriticalIllness == nil || !*e.CriticalIllness || e.AdmissionID != "A1" {
					return "hospital fields"
				}
				return ""
			}},
		{Hospital, map[string]any{"type": "discharged", "admission_id": "A1", "total_cost": 52000.5, "insured_cost": 30000, "out_of_pocket": 22000.5},
			func(e HouseholdEvent) string {
				if e.OutOfPocket == nil || *e.OutOfPocket != 22000.5 || e.TotalCost == nil || e.InsuredCost == nil {
					return "discharge costs"
				}
				return ""
			}},
		{Pension, map[string]any{"type": "started", "monthly_amount": 1800}, nil},
		{Pension, map[string]any{"type": "changed", "monthly_amount": 0}, nil},
		{Pension, map[string]any{"type": "suspended"}, nil},
		{Pension, map[string]any{"type": "stopped"}, nil},
		{Employment, map[string]any{"type": "employed", "monthly_wage": 4200}, nil},
		{Employment, map[string]any{"type": "unemployed", "registered": true}, nil},
		{Disability, map[string]any{"type": "registered", "grade": 1, "kind": "visual"},
			func(e HouseholdEvent) string {
				if e.Grade == nil || *e.Grade != 1 || e.Kind != "visual" {
					return "disability fields"
				}
				return ""
			}},
		{Disability, map[string]any{"type": "changed", "grade": 4.0}, nil},
		{Disability, map[string]any{"type": "revoked"}, nil},
	}
	for _, tc := range tests {
		name := tc.feed + "/" + tc.extra["type"].(string)
		t.Run(name, func(t *testing.T) {
			raw, derr := Decode(tc.feed, event(base("", tc.extra)), DefaultMaxEventBytes, DefaultMaxFutureSkew, testNow)
			if derr != nil {
				t.Fatalf("Decode: %v", derr)
			}
			ev := raw.Event
			if ev.V != EventVersion || ev.Feed != tc.feed || ev.Type != tc.extra["type"] || ev.EventID != "e-1" {
				t.Errorf("header: got %+v", ev)
			}
			if want := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC); !ev.OccurredAt.Equal(want) {
				t.Errorf("occurred_at: got %v, want %v", ev.OccurredAt, want)
			}
			if tc.check != nil {
				if msg := tc.check(ev); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	id := testID(1000)
	bad := []byte(id)
	bad[17] = "10X98765432"[(strings.IndexByte("10X98765432", bad[17])+1)%11]
	future := testNow.Add(25 * time.Hour).Format(time.RFC3339)
	tests := []struct {
		name   string
		feed   string
		raw    []byte
		reason string
		field  string
	}{
		{"not json", Pension, []byte(`{"event_id": "e-1",`), ReasonMalformedJSON, ""},
		{"array", Pension, []byte(`[1,2]`), ReasonMalformedJSON, ""},
		{"trailing garbage", Pension, append(event(base("suspended", nil)), "x"...), ReasonMalformedJSON, ""},
		{"empty", Pension, nil, ReasonMalformedJSON, ""},
		{"too large", Pension, append(event(base("suspended", nil)), make([]byte, DefaultMaxEventBytes)...), ReasonTooLarge, ""},
		{"no event_id", Pension, event(base("suspended", map[string]any{"event_id": nil})), ReasonMissingField, "event_id"},
		{"null type", Pension, event(base("suspended", map[string]any{"type": nil})), ReasonMissingField, "type"},
		{"numeric event_id", Pension, event(base("suspended", map[string]any{"event_id": 12})), ReasonBadType, "event_id"},
		{"unknown type", Pension, event(base("admitted", nil)), ReasonUnknownType, "type"},
		{"no person", Pension, event(base("suspended", map[string]any{"person_id": nil})), ReasonMissingField, "person_id"},
		{"numeric person", Pension, event(base("suspended", map[string]any{"person_id": 420106195209270001})), ReasonBadPersonID, "person_id"},
		{"bad check digit", Pension, event(base("suspended", map[string]any{"person_id": string(bad)})), ReasonBadPersonID, "person_id"},
		{"short id", Pension, event(base("suspended", map[string]any{"person_id": id[:15]})), ReasonBadPersonID, "person_id"},
		{"letter in id", Pension, event(base("suspended", map[string]any{"person_id": "4201061952A9270001"})), ReasonBadPersonID, "person_id"},
		{"impossible birth date", Pension, event(base("suspended", map[string]any{"person_id": withCheck("42010619520230001")})), ReasonBadPersonID, "person_id"},
		{"future birth date", Pension, event(base("suspended", map[string]any{"person_id": withCheck("42010621000101001")})), ReasonBadPersonID, "person_id"},
		{"occurred_at not rfc3339", Pension, event(base("suspended", map[string]any{"occurred_at": "2025-05-01 08:00"})), ReasonBadTime, "occurred_at"},
		{"occurred_at impossible", Pension, event(base("suspended", map[string]any{"occurred_at": "2025-02-30T08:00:00Z"})), ReasonBadTime, "occurred_at"},
		{"occurred_at future", Pension, event(base("suspended", map[string]any{"occurred_at": future})), ReasonBadTime, "occurred_at"},
		{"occurred_at number", Pension, event(base("suspended", map[string]any{"occurred_at": 1700000000})), ReasonBadTime, "occurred_at"},
		{"registry without household", Registry, event(base("member_joined", nil)), ReasonMissingField, "household_id"},
		{"bad sex", Registry, event(base("member_joined", map[string]any{"household_id": "H1", "sex": "X"})), ReasonBadValue, "sex"},
		{"bad relation", Registry, event(base("member_joined", map[string]any{"household_id": "H1", "relation": "cousin"})), ReasonBadValue, "relation"},
		{"birth date feb 30", Registry, event(base("member_joined", map[string]any{"household_id": "H1", "birth_date": "1990-02-30"})), ReasonBadValue, "birth_date"},
		{"admission without icd10", Hospital, event(base("admitted", map[string]any{"admission_id": "A1"})), ReasonMissingField, "icd10"},
		{"bad icd10", Hospital, event(base("admitted", map[string]any{"admission_id": "A1", "icd10": "cancer"})), ReasonBadValue, "icd10"},
		{"critical illness string", Hospital, event(base("admitted", map[string]any{"admission_id": "A1", "icd10": "C92.0", "critical_illness": "yes"})), ReasonBadType, "critical_illness"},
		{"discharge without cost", Hospital, event(base("discharged", map[string]any{"admission_id": "A1", "total_cost": 1, "insured_cost": 1})), ReasonMissingField, "out_of_pocket"},
		{"negative cost", Hospital, event(base("discharged", map[string]any{"admission_id": "A1", "total_cost": 1, "insured_cost": 1, "out_of_pocket": -5})), ReasonBadValue, "out_of_pocket"},
		{"amount as string", Pension, event(base("started", map[string]any{"monthly_amount": "1800"})), ReasonBadType, "monthly_amount"},
		{"huge amount", Pension, []byte(strings.Replace(string(event(base("started", map[string]any{"monthly_amount": 1}))), `"monthly_amount":1`, `"monthly_amount":1e400`, 1)), ReasonBadValue, "monthly_amount"},
		{"wage missing", Employment, event(base("employed", nil)), ReasonMissingField, "monthly_wage"},
		{"registered number", Employment, event(base("unemployed", map[string]any{"registered": 1})), ReasonBadType, "registered"},
		{"grade 5", Disability, event(base("registered", map[string]any{"grade": 5})), ReasonBadValue, "grade"},
		{"grade 1.5", Disability, event(base("registered", map[string]any{"grade": 1.5})), ReasonBadValue, "grade"},
		{"household_id too long", Pension, event(base("suspended", map[string]any{"household_id": strings.Repeat("h", 200)})), ReasonBadValue, "household_id"},
		{"id in event_id", Pension, event(base("suspended", map[string]any{"event_id": "ev-" + id})), ReasonBadValue, "event_id"},
		{"id with lower-case x in event_id", Pension, event(base("suspended", map[string]any{"event_id": withCheckX(t) + "-1"})), ReasonBadValue, "event_id"},
		{"15-digit id in household_id", Registry, event(base("member_joined", map[string]any{"household_id": "H" + id[:6] + id[8:17]})), ReasonBadValue, "household_id"},
		{"id in admission_id", Hospital, event(base("admitted", map[string]any{"admission_id": id, "icd10": "C92.0"})), ReasonBadValue, "admission_id"},
		{"id in kind", Disability, event(base("registered", map[string]any{"grade": 2, "kind": "v" + id})), ReasonBadValue, "kind"},
		{"C1 control in event_id", Pension, event(base("suspended", map[string]any{"event_id": "e\u0085"})), ReasonBadValue, "event_id"},
		{"bidi override in household_id", Registry, event(base("member_joined", map[string]any{"household_id": "H\u202e1"})), ReasonBadValue, "household_id"},
		{"zero-width space in admission_id", Hospital, event(base("admitted", map[string]any{"admission_id": "A\u200b1", "icd10": "C92.0"})), ReasonBadValue, "admission_id"},
		{"invalid utf-8", Pension, []byte(strings.Replace(string(event(base("suspended", nil))), `"e-1"`, "\"e-\xff\"", 1)), ReasonMalformedJSON, ""},
		{"duplicate key", Pension, []byte(strings.Replace(string(event(base("suspended", nil))), `{`, `{"type":"stopped",`, 1)), ReasonMalformedJSON, "type"},
		{"duplicate key in a record nested deeper than the scanner reads", Pension, []byte(strings.Replace(string(event(base("suspended", nil))), `{`, `{"type":"stopped","deep":`+strings.Repeat("[", maxSplitDepth+1)+strings.Repeat("]", maxSplitDepth+1)+`,`, 1)), ReasonMalformedJSON, "type"},
		{"duplicate key spelled with an escape", Pension, []byte(strings.Replace(string(event(base("suspended", nil))), `{`, `{"\u0074ype":"stopped",`, 1)), ReasonMalformedJSON, "type"},
		{"birth_date after occurred_at", Registry, event(base("member_joined", map[string]any{"household_id": "H1", "person_id": testID(20000), "birth_date": "2004-10-04", "occurred_at": "2004-01-01T00:00:00Z"})), ReasonBadValue, "birth_date"},
		{"birth_date not the id's", Registry, event(base("member_joined", map[string]any{"household_id": "H1", "birth_date": "1952-09-28"})), ReasonBadValue, "birth_date"},
		{"area_code short", Registry, event(base("member_joined", map[string]any{"household_id": "H1", "area_code": "42010600100"})), ReasonBadValue, "area_code"},
		{"area_code letters", Registry, event(base("member_joined", map[string]any{"household_id": "H1", "area_code": "42010600100A"})), ReasonBadValue, "area_code"},
		{"area_code no province", Registry, event(base("member_joined", map[string]any{"household_id": "H1", "area_code": "990106001001"})), ReasonBadValue, "area_code"},
		{"area_code number", Registry, event(base("member_joined", map[string]any{"household_id": "H1", "area_code": 420106001001})), ReasonBadType, "area_code"},
		{"id in household_id is not echoed", Registry, event(base("member_joined", map[string]any{"household_id": "H1", "relation": id})), ReasonBadValue, "relation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, derr := Decode(tc.feed, tc.raw, DefaultMaxEventBytes, DefaultMaxFutureSkew, testNow)
			if derr == nil {
				t.Fatalf("Decode accepted %s", tc.raw)
			}
			if derr.Reason != tc.reason || derr.Field != tc.field {
				t.Errorf("got %s on %q (%v), want %s on %q", derr.Reason, derr.Field, derr, tc.reason, tc.field)
			}
			if derr.Detail == "" {
				t.Error("no detail")
			}
			for _, s := range []string{id, string(bad), id[:15]} {
				if strings.Contains(derr.Error(), s) {
					t.Errorf("detail %q echoes an ID number", derr.Error())
				}
			}
		})
	}
}

func withCheck(first17 string) string { return first17 + string(ResidentIDCheck(first17)) }

// withCheckX returns a valid ID number whose check character is X, written lower-case.
func withCheckX(t *testing.T) string {
	for n := 0; n < 100; n++ {
		if id := testID(n); id[17] == 'X' {
			return id[:17] + "x"
		}
	}
	t.Fatal("no test ID with check character X")
	return ""
}

// An ID number cut by the 40-byte clip of a detail is masked before the cut.
func TestDetailMasksBeforeClipping(t *testing.T) {
	id := testID(3)
	raw := event(base("admitted", map[string]any{"admission_id": "A1", "icd10": strings.Repeat("Z", 30) + id}))
	_, derr := Decode(Hospital, raw, 0, time.Hour, testNow)
	if derr == nil || derr.Field != "icd10" {
		t.Fatalf("got %v, want bad_value on icd10", derr)
	}
	if strings.Contains(derr.Detail, id[:10]) {
		t.Errorf("detail %q shows the first 10 digits of an ID number", derr.Detail)
	}
}

func TestDecodeMaskedDetail(t *testing.T) {
	id := testID(7)
	raw := event(base("suspended", map[string]any{"person_id": id[:17] + "Y"}))
	_, derr := Decode(Pension, raw, 0, time.Hour, testNow)
	if derr == nil || !strings.Contains(derr.Detail, Mask(id[:17]+"Y")) {
		t.Fatalf("got %v, want the masked ID %s in the detail", derr, Mask(id[:17]+"Y"))
	}
}

func FuzzDecode(f *testing.F) {
	for _, typ := range []string{"member_joined", "member_left", "died", "admitted", "discharged", "started", "stopped", "employed", "unemployed", "registered", "revoked"} {
		f.Add(event(base(typ, map[string]any{"household_id": "H1", "admission_id": "A", "icd10": "I21.9", "total_cost": 1, "insured_cost": 0, "out_of_pocket": 1, "monthly_amount": 2, "monthly_wage": 3, "grade": 2})))
	}
	f.Add([]byte(`{"event_id":"x","type":"admitted","person_id":"11010519491231002X","occurred_at":"2024-01-01T00:00:00Z","admission_id":"a","icd10":"C92.0"}`))
	f.Add([]byte(`{"event_id":"x","type":"died","person_id":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"grade":1e999}`))
	p, err := NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, feed := range Feeds {
			r, derr := Decode(feed, raw, 4096, time.Hour, testNow)
			if derr != nil {
				if !contains(Reasons, derr.Reason) || derr.Reason == ReasonUnknownPerson {
					t.Fatalf("reason %q is not a decoder reason", derr.Reason)
				}
				if idRun.MatchString(derr.Error()) {
					t.Fatalf("detail echoes an ID-shaped number: %q", derr.Error())
				}
				continue
			}
			ev := r.Event
			if len(raw) > 4096 || !contains(feedTypes[feed], ev.Type) || ev.EventID == "" || ev.Feed != feed {
				t.Fatalf("accepted an event breaking the header invariants: %+v", ev)
			}
			if _, e := CheckResidentID(r.personID, testNow); e != nil {
				t.Fatalf("accepted an invalid person id: %v", e)
			}
			if ev.OccurredAt.After(testNow.Add(time.Hour)) || ev.OccurredAt.Year() < earliestYear {
				t.Fatalf("accepted occurred_at %v", ev.OccurredAt)
			}
			if feed == Registry && (ev.HouseholdID == "" || ev.BirthDate == nil || (ev.Sex != "F" && ev.Sex != "M")) {
				t.Fatalf("registry event without household, birth date or sex: %+v", ev)
			}
			if ev.Grade != nil && (*ev.Grade < 1 || *ev.Grade > 4) {
				t.Fatalf("accepted grade %d", *ev.Grade)
			}
			for _, a := range []*float64{ev.TotalCost, ev.InsuredCost, ev.OutOfPocket, ev.MonthlyAmount, ev.MonthlyWage} {
				if a != nil && *a < 0 {
					t.Fatalf("accepted negative amount %v", *a)
				}
			}
			out, err := json.Marshal(p.Apply(r))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), r.personID) {
				t.Fatalf("canonical event carries the raw ID number")
			}
		}
	})
}

// FuzzPlainString: where plainString reads a member of a valid UTF-8 JSON value, it reads what
// json.Unmarshal reads.
func FuzzPlainString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b"`, `"汉字"`, `""`, `"\u00e9"`, `"a` + "\t" + `b"`, `12`, `"x"y"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		got, ok := plainString(v)
		if !ok || !utf8.Valid(v) {
			return
		}
		var want string
		if err := json.Unmarshal(v, &want); err != nil {
			return // not a JSON value: parseObject refuses the record before fields are read
		}
		if got != want {
			t.Fatalf("plainString(%q) = %q; json.Unmarshal %q", v, got, want)
		}
	})
}

// TestDecodedStringsOutliveTheNextDecode: the strings of a decoded event are the bytes of the
// record's members (plainString), so they must be left alone by the decodes after it, which
// reuse Decode's maps and the library's buffers.
func TestDecodedStringsOutliveTheNextDecode(t *testing.T) {
	first, e := Decode(Hospital, event(base("admitted", map[string]any{"event_id": "first-event", "admission_id": "adm-1", "icd10": "I21.9"})), 0, time.Hour, testNow)
	if e != nil {
		t.Fatal(e)
	}
	want := first.Event
	want.EventID, want.AdmissionID, want.ICD10 = strings.Clone(want.EventID), strings.Clone(want.AdmissionID), strings.Clone(want.ICD10)
	for n := range 50 {
		if _, e := Decode(Hospital, event(base("admitted", map[string]any{"event_id": fmt.Sprintf("other-%05d", n), "admission_id": "xxx-9", "icd10": "C00.0"})), 0, time.Hour, testNow); e != nil {
			t.Fatal(e)
		}
	}
	got := first.Event
	if got.EventID != want.EventID || got.AdmissionID != want.AdmissionID || got.ICD10 != want.ICD10 {
		t.Errorf("after later decodes: event id %q, admission %q, icd10 %q; want %q, %q, %q", got.EventID, got.AdmissionID, got.ICD10, want.EventID, want.AdmissionID, want.ICD10)
	}
}
