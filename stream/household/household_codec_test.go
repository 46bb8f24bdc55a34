package household

import (
	"bytes"
	"encoding/json"
	"reflect"
	"runtime"
	"testing"
	"time"
)

func codecSample() *Household {
	f := func(v float64) *float64 { return &v }
	tr, fa, g := true, false, 2
	bd := time.Date(1961, 3, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	h := New("hh-1", 3)
	h.Persons["k1"] = &Person{Masked: "420106***********4",
		Registry:   []Fact{{At: at, ID: "r1", Type: "member_joined", BirthDate: &bd, Sex: "F", Relation: "head", AreaCode: "420106001001"}},
		Employment: []Fact{{At: at, ID: "e1", Type: "unemployed", Registered: &tr}, {At: at.Add(time.Hour), ID: "e2", Type: "employed", MonthlyWage: f(3100.5)}},
		Pension:    []Fact{{At: at, ID: "p1", Type: "started", MonthlyAmount: f(1200)}},
		Disability: []Fact{{At: at, ID: "d1", Type: "registered", Grade: &g, Kind: "physical"}},
		Hospital: []Fact{{At: at, ID: "h1", Type: "admitted", AdmissionID: "a1", ICD10: "N18.5", CriticalIllness: &fa,
			TotalCost: f(1e5), InsuredCost: f(6e4), OutOfPocket: f(4e4)}},
	}
	h.Persons["k0"] = &Person{Registry: []Fact{{At: time.Unix(0, 0).UTC(), ID: "r0", Type: "member_left"}}}
	h.Level, h.Score, h.Episode, h.Open, h.Seq = "warning", 61.3, 2, true, 3
	h.NextCheck, h.AssessedAt, h.Updated = at.Add(48*time.Hour), at, at
	h.Alerts = []AlertRef{{AlertID: "abc", Status: StatusRaised, Level: "watch", Score: 41, EmittedAt: at}}
	h.ModelVersion = "default-2025.1"
	return h
}

// The binary form round-trips every field, and reads like the JSON form earlier builds wrote.
func TestHouseholdCodecRoundTrip(t *testing.T) {
	h := codecSample()
	b, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(h)
	have, _ := json.Marshal(got)
	if !bytes.Equal(have, want) {
		t.Errorf("round trip:\n got %s\nwant %s", have, want)
	}
	again, _ := Encode(got)
	if !bytes.Equal(again, b) {
		t.Error("encoding the decoded household gives other bytes")
	}
	fromJSON, err := Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := json.Marshal(fromJSON); !bytes.Equal(j, want) {
		t.Errorf("JSON form read back:\n got %s\nwant %s", j, want)
	}
	if len(b) >= len(want)/2 {
		t.Errorf("binary form is %d bytes, JSON %d: expected well under half", len(b), len(want))
	}
	cj, err := CanonicalJSON(b)
	if err != nil || !bytes.Contains(cj, []byte(`"id":"hh-1"`)) {
		t.Errorf("CanonicalJSON of the binary form: %s, %v", cj, err)
	}
}

// Values of the earlier binary versions still read: version 1 with no model version, 2 with no
// casework, 3 with no asset facts and no declarations, 3 and 4 with their casework (and 4 its
// declarations) as JSON documents.
func TestHouseholdCodecReadsEarlierVersions(t *testing.T) {
	h := codecSample()
	h.Casework = caseworkSample()
	h.Declarations = declarationsSample()
	latest, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Decode(latest)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []byte{householdBinaryV1, householdBinaryV2, householdBinaryV3, householdBinaryV4, householdBinaryV5} {
		b, err := encodeAs(h, v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		if got.ID != h.ID || len(got.Persons) != len(h.Persons) || (got.Declarations != nil) != (v >= householdBinaryV4) {
			t.Errorf("version %d read as id %q, %d persons, declarations %v", v, got.ID, len(got.Persons), got.Declarations)
		}
		if (got.ModelVersion != "") != (v >= householdBinaryV2) || (got.Casework != nil) != (v >= householdBinaryV3) {
			t.Errorf("version %d read as model %q, casework %v", v, got.ModelVersion, got.Casework != nil)
		}
		if got.Persons["k1"].Employment[1].MonthlyWage == nil {
			t.Errorf("version %d: facts lost", v)
		}
		// The JSON documents of versions 3 and 4 read as the binary sections of version 5 do.
		if v >= householdBinaryV3 && !reflect.DeepEqual(got.Casework, want.Casework) {
			t.Errorf("version %d casework:\n got %+v\nwant %+v", v, got.Casework, want.Casework)
		}
		if v >= householdBinaryV4 && !reflect.DeepEqual(got.Declarations, want.Declarations) {
			t.Errorf("version %d declarations:\n got %+v\nwant %+v", v, got.Declarations, want.Declarations)
		}
		// From version 4 every fact list is written: the facts read as the latest's do.
		if v >= householdBinaryV4 && !reflect.DeepEqual(got.Persons, want.Persons) {
			t.Errorf("version %d persons differ from the latest version's", v)
		}
	}
	h.Declarations = nil
	b, _ := Encode(h)
	if b[0] != householdBinaryV6 || b[len(b)-1] != 0 {
		t.Errorf("version 6 layout without declarations: first byte %d, last %d", b[0], b[len(b)-1])
	}
	if p, ok := PartitionOf(b); !ok || p != h.Partition {
		t.Errorf("PartitionOf(version 6) = %d, %v; want %d", p, ok, h.Partition)
	}
}

func TestHouseholdCodecRefusesDamage(t *testing.T) {
	b, _ := Encode(codecSample())
	for _, n := range []int{0, 1, 5, len(b) / 2, len(b) - 1} {
		if _, err := Decode(b[:n]); err == nil {
			t.Errorf("%d of %d bytes decoded without error", n, len(b))
		}
	}
	if _, err := Decode(append(append([]byte{}, b...), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
}

func BenchmarkHouseholdCodec(b *testing.B) {
	h := codecSample()
	b.ReportAllocs()
	for b.Loop() {
		v, _ := Encode(h)
		if _, err := Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}

// DecodeSummary reads everything but the persons, alerts and declarations exactly as Decode
// does, in every binary version and the JSON form, refuses the same damage, and allocates a
// fraction of what Decode does (a restore decodes every changelog record with it).
func TestHouseholdCodecSummary(t *testing.T) {
	h := codecSample()
	h.Casework = caseworkSample()
	h.Declarations = declarationsSample()
	strip := func(h *Household) *Household {
		c := *h
		c.Persons, c.Alerts, c.Declarations = nil, nil, nil
		return &c
	}
	for _, v := range []byte{householdBinaryV1, householdBinaryV2, householdBinaryV3, householdBinaryV4, householdBinaryV5, householdBinaryV6} {
		b, err := encodeAs(h, v)
		if err != nil {
			t.Fatal(err)
		}
		full, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeSummary(b)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		want, _ := json.Marshal(strip(full))
		if have, _ := json.Marshal(got); !bytes.Equal(have, want) {
			t.Errorf("version %d summary:\n got %s\nwant %s", v, have, want)
		}
		if len(got.Persons)+len(got.Alerts) != 0 || got.Declarations != nil {
			t.Errorf("version %d summary kept %d persons, %d alerts, declarations %v", v, len(got.Persons), len(got.Alerts), got.Declarations)
		}
		for _, n := range []int{1, 5, len(b) / 2, len(b) - 1} {
			if _, err := DecodeSummary(b[:n]); err == nil {
				t.Errorf("version %d: summary of %d of %d bytes without error", v, n, len(b))
			}
		}
		if _, err := DecodeSummary(append(append([]byte{}, b...), 0)); err == nil {
			t.Errorf("version %d: summary accepted a trailing byte", v)
		}
	}
	j, _ := json.Marshal(h)
	if got, err := DecodeSummary(j); err != nil || got.ID != h.ID || got.NextCheck != h.NextCheck {
		t.Errorf("summary of the JSON form: %+v, %v", got, err)
	}
	h.Casework = nil
	b, _ := Encode(h)
	full, summary := allocatedBytes(func() { _, _ = Decode(b) }), allocatedBytes(func() { _, _ = DecodeSummary(b) })
	t.Logf("bytes allocated per call: Decode %d, DecodeSummary %d", full, summary)
	if summary*4 > full {
		t.Errorf("DecodeSummary allocates %d bytes, Decode %d: want at most a quarter", summary, full)
	}
}

// allocatedBytes is the heap bytes one call of f allocates, averaged over 1,000 calls.
func allocatedBytes(f func()) uint64 {
	f()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range 1000 {
		f()
	}
	runtime.ReadMemStats(&m1)
	return (m1.TotalAlloc - m0.TotalAlloc) / 1000
}

// DecodeImmutable reads what Decode reads, without the copy of the value (one allocation
// fewer), and AppendEncode writes what Encode writes, after what the buffer already holds.
func TestDecodeImmutableAndAppendEncode(t *testing.T) {
	h := codecSample()
	b, err := Encode(h)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := DecodeImmutable(b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(copied)
	if got, _ := json.Marshal(shared); !bytes.Equal(got, want) {
		t.Errorf("DecodeImmutable read\n%s\nDecode read\n%s", got, want)
	}
	a := testing.AllocsPerRun(20, func() { _, _ = Decode(b) })
	s := testing.AllocsPerRun(20, func() { _, _ = DecodeImmutable(b) })
	if s != a-1 {
		t.Errorf("DecodeImmutable allocates %.0f times, Decode %.0f: want one fewer (no copy of the value)", s, a)
	}
	if _, err := DecodeImmutable(b[:len(b)-1]); err == nil {
		t.Error("DecodeImmutable read a truncated value")
	}
	if _, err := DecodeImmutable(b[:1]); err == nil {
		t.Error("DecodeImmutable read a value of one byte")
	}

	buf := []byte("prefix")
	buf, err = AppendEncode(buf, h, FormatLatest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:6], []byte("prefix")) || !bytes.Equal(buf[6:], b) {
		t.Error("AppendEncode does not append Encode's bytes to the buffer")
	}
}

// FuzzDecodeImmutable: on any bytes, DecodeImmutable (whose strings point into the bytes)
// never panics and agrees with Decode: both refuse them, or both read the same household.
func FuzzDecodeImmutable(f *testing.F) {
	full, err := Encode(codecSample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Add(full[:len(full)/2])
	withCases := codecSample()
	withCases.Casework, withCases.Declarations = caseworkSample(), declarationsSample()
	if full, err = Encode(withCases); err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	f.Add(full[:len(full)-len(full)/4])
	f.Add([]byte{householdBinaryLatest})
	f.Add([]byte(`{"id":"h","persons":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := Decode(b)
		got, gerr := DecodeImmutable(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("Decode error %v, DecodeImmutable error %v", werr, gerr)
		}
		if werr != nil {
			return
		}
		w, _ := json.Marshal(want)
		g, _ := json.Marshal(got)
		if !bytes.Equal(w, g) {
			t.Fatalf("Decode read\n%s\nDecodeImmutable read\n%s", w, g)
		}
	})
}

// AppendEncode writes the latest format or the previous one (SAFETYNET_STATE_FORMAT) and
// refuses any other: version 3 and earlier would drop the asset facts and the declarations.
func TestAppendEncodeFormats(t *testing.T) {
	h := codecSample()
	h.Casework, h.Declarations = caseworkSample(), declarationsSample()
	for format, version := range map[int]byte{0: householdBinaryLatest, FormatLatest: householdBinaryLatest, FormatPrevious: householdBinaryV5} {
		b, err := AppendEncode(nil, h, format)
		if err != nil {
			t.Fatalf("format %d: %v", format, err)
		}
		want, _ := encodeAs(h, version)
		if !bytes.Equal(b, want) {
			t.Errorf("format %d: not the version %d layout", format, version)
		}
	}
	for _, format := range []int{1, 3, FormatLatest + 1} {
		if _, err := AppendEncode(nil, h, format); err == nil {
			t.Errorf("format %d written", format)
		}
	}
}
