package feed

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func codecEvents() []HouseholdEvent {
	at := time.Date(2024, 3, 1, 8, 30, 0, 123456789, time.UTC)
	cst := time.FixedZone("", 8*3600)
	bd := time.Date(1950, 1, 2, 0, 0, 0, 0, time.UTC)
	f := func(v float64) *float64 { return &v }
	b := func(v bool) *bool { return &v }
	g := 2
	return []HouseholdEvent{
		{},
		{V: 1, EventID: "e-1", Feed: Registry, Type: "member_joined", HouseholdID: "hh-1", PersonKey: "0123456789abcdef0123456789abcdef",
			PersonMasked: "420106***********4", OccurredAt: at, Source: Source{Topic: "feeds.registry", Partition: 3, Offset: 1042},
			ProducedAt: at.In(cst), IngestedAt: at.Add(time.Second), BirthDate: &bd, Sex: "F", Relation: "head", AreaCode: "420106001001"},
		{V: 1, EventID: "e-2", Feed: Hospital, Type: "discharged", HouseholdID: "hh-2", OccurredAt: at.In(cst), AdmissionID: "a-9",
			ICD10: "C92.0", CriticalIllness: b(true), TotalCost: f(12345.67), InsuredCost: f(0), OutOfPocket: f(1e21)},
		{V: 1, Feed: Employment, Type: "employed", MonthlyWage: f(1e-7), Registered: b(false), Source: Source{Offset: -1}},
		{V: 1, Feed: Disability, Type: "registered", Grade: &g, Kind: "visual", MonthlyAmount: f(-0.5)},
		{V: -7, EventID: `quote " back \ <tag> & ünïcode ` + "\u2028\x01\xff", HouseholdID: "hh <1>", Kind: "\t"},
		{V: 1, OccurredAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // json.Marshal refuses it
		{V: 1, Feed: Assets, Type: VehicleRegistered, AssetID: "veh-1", Value: f(85000)},
		{V: 1, Feed: Assets, Type: DepositsReported, Balance: f(12000.5), MonthlyContribution: f(0)},
		{V: 1, Feed: Applications, Type: AppSubmitted, HouseholdID: "hh-3", Application: &Application{ApplicationID: "app-1", Program: "dibao",
			CommitmentSigned: b(true), Declared: &Declaration{Members: []DeclaredMember{{PersonKey: "k1", PersonMasked: "420106***********4", MonthlyIncome: 0}},
				Vehicles: 1, FinancialAssets: 3000, BusinessOwner: true}, Decision: "approved", MonthlyBenefit: f(800)}},
	}
}

func TestHouseholdEventCodecMatchesEncodingJSON(t *testing.T) {
	for n, ev := range codecEvents() {
		want, werr := json.Marshal(ev)
		got, gerr := AppendHouseholdEvent([]byte("prefix"), &ev)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("event %d: error %v; encoding/json: %v", n, gerr, werr)
		}
		if werr != nil {
			if string(got) != "prefix" {
				t.Errorf("event %d: failed encode left %q", n, got)
			}
			continue
		}
		if !bytes.Equal(got[len("prefix"):], want) {
			t.Errorf("event %d:\n got %s\nwant %s", n, got[len("prefix"):], want)
		}
		var back, jback HouseholdEvent
		if err := DecodeHouseholdEvent(want, &back); err != nil {
			t.Fatalf("event %d: decode: %v", n, err)
		}
		if err := json.Unmarshal(want, &jback); err != nil {
			t.Fatal(err)
		}
		sameDecoded(t, want, back, nil, jback, nil)
	}
}

func TestHouseholdEventCodecRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		const chars = "abcXYZ019-_.:* <>&\"\\é\n"
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = chars[r.IntN(len(chars))]
		}
		return string(b)
	}
	fl := func() *float64 {
		if r.IntN(3) == 0 {
			return nil
		}
		v := []float64{0, r.Float64() * 1e6, -r.Float64(), math.Ldexp(r.Float64(), r.IntN(200)-100), float64(r.IntN(1000))}[r.IntN(5)]
		return &v
	}
	tm := func() time.Time {
		if r.IntN(4) == 0 {
			return time.Time{}
		}
		return time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("", (r.IntN(48)-24)*1800))
	}
	enc := NewEventEncoder() // one encoder for every event: its slices must survive the buffer's growth
	type encoded struct{ got, want []byte }
	var byEncoder []encoded
	for n := range 2000 {
		ev := HouseholdEvent{V: r.IntN(3), EventID: str(), Feed: str(), Type: str(), HouseholdID: str(), PersonKey: str(),
			PersonMasked: str(), OccurredAt: tm(), Source: Source{str(), r.IntN(64), r.Int64()}, ProducedAt: tm(), IngestedAt: tm(),
			Sex: str(), Relation: str(), AdmissionID: str(), ICD10: str(), TotalCost: fl(), InsuredCost: fl(), OutOfPocket: fl(),
			MonthlyAmount: fl(), MonthlyWage: fl(), Kind: str()}
		if r.IntN(2) == 0 {
			b, g, d := r.IntN(2) == 0, r.IntN(5), tm()
			ev.CriticalIllness, ev.Registered, ev.Grade, ev.BirthDate = &b, &b, &g, &d
		}
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendHouseholdEvent(nil, &ev)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("event %d: %v\n got %s\nwant %s", n, err, got, want)
		}
		e, err := enc.Encode(&ev)
		if err != nil {
			t.Fatalf("event %d: EventEncoder: %v", n, err)
		}
		byEncoder = append(byEncoder, encoded{e, want})
		if n%500 == 499 {
			for k, x := range byEncoder {
				if !bytes.Equal(x.got, x.want) {
					t.Fatalf("EventEncoder, event %d of the batch:\n got %s\nwant %s", k, x.got, x.want)
				}
			}
			byEncoder = byEncoder[:0]
			enc.Reset()
		}
		var back, jback HouseholdEvent
		berr := DecodeHouseholdEvent(want, &back)
		jerr := json.Unmarshal(want, &jback)
		sameDecoded(t, want, back, berr, jback, jerr)
	}
}

// sameDecoded fails unless DecodeHouseholdEvent gave what encoding/json gave.
func sameDecoded(t *testing.T, in []byte, got HouseholdEvent, gerr error, want HouseholdEvent, werr error) {
	t.Helper()
	if (gerr != nil) != (werr != nil) {
		t.Fatalf("decode %q: error %v; encoding/json: %v", in, gerr, werr)
	}
	if werr != nil {
		return
	}
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil || !bytes.Equal(g, w) || !got.OccurredAt.Equal(want.OccurredAt) {
		t.Fatalf("decode %q:\n got %s\nwant %s", in, g, w)
	}
}

func FuzzDecodeHouseholdEvent(f *testing.F) {
	for _, ev := range codecEvents() {
		if b, err := json.Marshal(ev); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"v":1, "source": {"offset": 2, "offset": -0}, "grade": null, "total_cost": 1.5e3, "V": 2}`))
	f.Add([]byte(`{"v":1.0,"occurred_at":"2024-03-01T08:30:00+08:00","birth_date":null,"registered":true} `))
	f.Fuzz(func(t *testing.T, in []byte) {
		var got, want HouseholdEvent
		gerr := DecodeHouseholdEvent(in, &got)
		werr := json.Unmarshal(in, &want)
		sameDecoded(t, in, got, gerr, want, werr)
	})
}

// Decode splits a feed record into its members exactly as encoding/json does, and refuses what
// it refuses.
func FuzzSplitObject(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1","n":[1,{"a":"}"}],"x":-1.5e3 , "y" : true,"s":"a\"b","e":{}}`))
	f.Add([]byte(`{"k\u0041":1,"k":null,"k":2}`))
	f.Add([]byte(`{"a":[1,,2]}`))
	f.Add([]byte(`{"a":"\ud800"} x`))
	f.Add([]byte(`{}`))
	f.Add([]byte(` {"a":-0.5e-3,"b":[true,false,null,[]],"c":{"d":"\u00e9\n","e":{}}} ` + "\n"))
	f.Add([]byte(`{"a":01}`))
	f.Add([]byte(`{"a":1.,"b":1e}`))
	f.Add([]byte("{\"a\":\"\x01\"}"))
	f.Add([]byte(`{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, gerr := splitObject(in)
		var want map[string]json.RawMessage
		werr := json.Unmarshal(in, &want)
		if (gerr != nil) != (werr != nil) {
			t.Fatalf("splitObject(%q): error %v; encoding/json: %v", in, gerr, werr)
		}
		if werr != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("splitObject(%q) = %d members; encoding/json %d", in, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("splitObject(%q)[%q] = %s; encoding/json %s", in, k, got[k], v)
			}
		}
	})
}
