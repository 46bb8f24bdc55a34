package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"safetynet/stream/feed"
	"safetynet/stream/feedgen"
)

// decoderOnly lists the checks intake's decoder makes that JSON Schema cannot express. A record
// the feed schema accepts and the decoder refuses must be refused for one of these, and every
// one of them must be met by the corpus (so the list stays true). The feed schemas say the same
// in their descriptions (docs/schemas/common.schema.json).
var decoderOnly = []struct {
	reason, field, detail string // detail: a substring of the decoder's detail
	why                   string
}{
	{feed.ReasonBadPersonID, "person_id", "check character does not match", "the ID number's ISO 7064 MOD 11-2 check character"},
	{feed.ReasonBadPersonID, "person_id", "no plausible birth date", "the ID number's birth date must exist and not be in the future"},
	{feed.ReasonBadTime, "occurred_at", "is not an RFC 3339 time", "occurred_at's day must exist (2025-02-30)"},
	{feed.ReasonBadTime, "occurred_at", "in the future", "occurred_at at most SAFETYNET_MAX_FUTURE_SKEW after intake's clock"},
	{feed.ReasonBadValue, "birth_date", "is not a date that exists", "birth_date must exist (1990-02-30)"},
	{feed.ReasonBadValue, "", "bytes, the limit is 128", "identifiers are limited in bytes; maxLength counts characters"},
	{feed.ReasonTooLarge, "", "", "the record's size in bytes (SAFETYNET_MAX_EVENT_BYTES)"},
	{feed.ReasonBadValue, "birth_date", "disagrees with the birth date in person_id", "birth_date must be the ID number's birth date"},
	{feed.ReasonBadValue, "household_id", "", "identifiers must not hold a resident ID number (a run of 15 or 18 digits)"},
	{feed.ReasonMalformedJSON, "", "", "a key given twice (JSON Schema sees only one of them)"},
}

func decoderOnlyIndex(e *feed.DecodeError) int {
	for i, d := range decoderOnly {
		if e.Reason == d.reason && (d.field == "" || e.Field == d.field) && strings.Contains(e.Detail, d.detail) {
			return i
		}
	}
	return -1
}

var corpusNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// personID returns a valid resident ID number born on birth (YYYYMMDD) with sequence seq.
func personID(birth string, seq int) string {
	first := fmt.Sprintf("420106%s%03d", birth, seq%1000)
	return first + string(feed.ResidentIDCheck(first))
}

type record struct {
	name string
	feed string
	raw  []byte
}

func rec(name, feed string, fields map[string]any) record {
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return record{name, feed, b}
}

// with returns the base event of typ with fields changed; nil removes a field, rawNull sets it
// to JSON null.
func with(typ string, changes map[string]any) map[string]any {
	m := map[string]any{"event_id": "e-1", "type": typ, "person_id": personID("19520927", 0), "occurred_at": "2025-05-01T08:00:00+08:00"}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
			continue
		}
		if v == rawNull {
			v = nil
		}
		m[k] = v
	}
	return m
}

var rawNull = new(int)

// handCorpus is a hand-written corpus: every feed and type, valid and invalid in every way the
// decoder knows, the tests' own bad records, and the decoder's fuzz seeds.
func handCorpus() []record {
	id := personID("19520927", 0)
	badCheck := id[:17] + map[bool]string{true: "1", false: "0"}[id[17] == '0']
	future := corpusNow.Add(25 * time.Hour).Format(time.RFC3339)
	long := strings.Repeat("h", 129)
	wide := strings.Repeat("户", 50) // 50 characters, 150 bytes
	var c []record
	add := func(name, feed, typ string, changes map[string]any) {
		c = append(c, rec(name, feed, with(typ, changes)))
	}
	raw := func(name, feed, s string) { c = append(c, record{name, feed, []byte(s)}) }

	// Valid: every feed and type, with and without the optional fields.
	add("registry joined full", "registry", "member_joined", map[string]any{"household_id": "H1", "birth_date": "1952-09-27", "sex": "F", "relation": "head", "unknown_field": 7})
	add("registry birth date not the ID's", "registry", "member_joined", map[string]any{"household_id": "H1", "birth_date": "1952-10-28", "sex": "F", "relation": "head"})
	add("registry identifier holding an ID number", "registry", "member_joined", map[string]any{"household_id": "H-" + id, "relation": "head"})
	raw("duplicate key", "pension", `{"event_id":"e-1","event_id":"e-2","type":"started","person_id":"`+id+`","occurred_at":"2025-05-01T08:00:00+08:00","monthly_amount":900}`)
	add("registry left", "registry", "member_left", map[string]any{"household_id": "H1"})
	add("registry died", "registry", "died", map[string]any{"household_id": "H1", "sex": rawNull, "relation": ""})
	add("registry empty optionals", "registry", "member_joined", map[string]any{"household_id": "H1", "birth_date": "", "sex": "", "relation": rawNull})
	add("registry lower-case x", "registry", "member_joined", map[string]any{"household_id": "H1", "person_id": "11010519491231002x"})
	add("hospital admitted", "hospital", "admitted", map[string]any{"admission_id": "A1", "icd10": "C92.0", "critical_illness": true})
	add("hospital admitted plain icd", "hospital", "admitted", map[string]any{"admission_id": "A1", "icd10": "I21", "critical_illness": rawNull})
	add("hospital discharged", "hospital", "discharged", map[string]any{"admission_id": "A1", "total_cost": 52000.5, "insured_cost": 30000, "out_of_pocket": 22000.5})
	add("hospital discharged empty icd", "hospital", "discharged", map[string]any{"admission_id": "A1", "icd10": "", "total_cost": 0, "insured_cost": 0, "out_of_pocket": 0})
	add("pension started", "pension", "started", map[string]any{"monthly_amount": 1800})
	add("pension changed zero", "pension", "changed", map[string]any{"monthly_amount": 0})
	add("pension suspended", "pension", "suspended", nil)
	add("pension stopped with amount", "pension", "stopped", map[string]any{"monthly_amount": 1200, "household_id": "H1"})
	add("pension stopped empty household", "pension", "stopped", map[string]any{"household_id": ""})
	add("employment employed", "employment", "employed", map[string]any{"monthly_wage": 4200})
	add("employment unemployed", "employment", "unemployed", map[string]any{"registered": true})
	add("employment unemployed null", "employment", "unemployed", map[string]any{"registered": rawNull})
	add("disability registered", "disability", "registered", map[string]any{"grade": 1, "kind": "visual"})
	add("disability changed", "disability", "changed", map[string]any{"grade": 4})
	add("disability revoked", "disability", "revoked", map[string]any{"kind": ""})
	add("utc occurred_at", "pension", "suspended", map[string]any{"occurred_at": "2025-05-01T00:00:00Z"})
	add("fractional occurred_at", "pension", "suspended", map[string]any{"occurred_at": "2025-05-01T00:00:00.123456789-05:00"})
	raw("grade 4.0", "disability", strings.Replace(string(rec("", "", with("changed", map[string]any{"grade": 4})).raw), `"grade":4`, `"grade":4.0`, 1))
	raw("whitespace around", "pension", " \n"+string(rec("", "", with("suspended", nil)).raw)+"\n")

	// Invalid, and refused by the schema too.
	raw("not json", "pension", `{"event_id": "e-1",`)
	raw("array", "pension", `[1,2]`)
	raw("trailing garbage", "pension", string(rec("", "", with("suspended", nil)).raw)+"x")
	raw("empty", "pension", "")
	raw("csv", "hospital", id+",admitted,1700000000")
	add("no event_id", "pension", "suspended", map[string]any{"event_id": nil})
	add("empty event_id", "pension", "suspended", map[string]any{"event_id": ""})
	add("null type", "pension", "suspended", map[string]any{"type": rawNull})
	add("numeric event_id", "pension", "suspended", map[string]any{"event_id": 12})
	add("control character in event_id", "pension", "suspended", map[string]any{"event_id": "a\x01b"})
	add("event_id too long", "pension", "suspended", map[string]any{"event_id": long})
	add("unknown type", "pension", "admitted", nil)
	add("no person", "pension", "suspended", map[string]any{"person_id": nil})
	add("numeric person", "pension", "suspended", map[string]any{"person_id": 420106195209270001})
	add("short id", "pension", "suspended", map[string]any{"person_id": id[:15]})
	add("letter in id", "pension", "suspended", map[string]any{"person_id": "4201061952A9270001"})
	add("birth year 1880", "pension", "suspended", map[string]any{"person_id": "440524188001010014"})
	add("birth month 13", "pension", "suspended", map[string]any{"person_id": personID("19521301", 1)})
	add("occurred_at not rfc3339", "pension", "suspended", map[string]any{"occurred_at": "2025-05-01 08:00"})
	add("occurred_at month 13", "pension", "suspended", map[string]any{"occurred_at": "2025-13-01T08:00:00Z"})
	add("occurred_at before 1900", "pension", "suspended", map[string]any{"occurred_at": "1899-12-31T08:00:00Z"})
	add("occurred_at number", "pension", "suspended", map[string]any{"occurred_at": 1700000000})
	add("registry without household", "registry", "member_joined", nil)
	add("registry empty household", "registry", "member_joined", map[string]any{"household_id": ""})
	add("bad sex", "registry", "member_joined", map[string]any{"household_id": "H1", "sex": "X"})
	add("bad relation", "registry", "member_joined", map[string]any{"household_id": "H1", "relation": "cousin"})
	add("id in relation", "registry", "member_joined", map[string]any{"household_id": "H1", "relation": id})
	add("birth_date shape", "registry", "member_joined", map[string]any{"household_id": "H1", "birth_date": "28/10/1952"})
	add("birth_date before 1900", "registry", "member_joined", map[string]any{"household_id": "H1", "birth_date": "1899-01-01"})
	add("birth_date number", "registry", "member_joined", map[string]any{"household_id": "H1", "birth_date": 19521028})
	add("admission without icd10", "hospital", "admitted", map[string]any{"admission_id": "A1"})
	add("admission empty icd10", "hospital", "admitted", map[string]any{"admission_id": "A1", "icd10": ""})
	add("admission without id", "hospital", "admitted", map[string]any{"icd10": "C92.0"})
	add("bad icd10", "hospital", "admitted", map[string]any{"admission_id": "A1", "icd10": "cancer"})
	add("lower-case icd10", "hospital", "admitted", map[string]any{"admission_id": "A1", "icd10": "c92.0"})
	add("critical illness string", "hospital", "admitted", map[string]any{"admission_id": "A1", "icd10": "C92.0", "critical_illness": "yes"})
	add("discharge without cost", "hospital", "discharged", map[string]any{"admission_id": "A1", "total_cost": 1, "insured_cost": 1})
	add("discharge null cost", "hospital", "discharged", map[string]any{"admission_id": "A1", "total_cost": 1, "insured_cost": 1, "out_of_pocket": rawNull})
	add("negative cost", "hospital", "discharged", map[string]any{"admission_id": "A1", "total_cost": 1, "insured_cost": 1, "out_of_pocket": -5})
	add("amount as string", "pension", "started", map[string]any{"monthly_amount": "1800"})
	add("started without amount", "pension", "started", nil)
	add("implausible amount", "pension", "started", map[string]any{"monthly_amount": 2e12})
	raw("huge amount", "pension", strings.Replace(string(rec("", "", with("started", map[string]any{"monthly_amount": 1})).raw), `"monthly_amount":1`, `"monthly_amount":1e400`, 1))
	add("wage missing", "employment", "employed", nil)
	add("negative wage", "employment", "employed", map[string]any{"monthly_wage": -1})
	add("registered number", "employment", "unemployed", map[string]any{"registered": 1})
	add("grade 5", "disability", "registered", map[string]any{"grade": 5})
	add("grade 0", "disability", "registered", map[string]any{"grade": 0})
	add("grade 1.5", "disability", "registered", map[string]any{"grade": 1.5})
	add("grade string", "disability", "registered", map[string]any{"grade": "2"})
	add("grade missing", "disability", "changed", nil)
	add("kind number", "disability", "registered", map[string]any{"grade": 2, "kind": 3})
	add("household_id too long", "pension", "suspended", map[string]any{"household_id": long})
	add("household_id number", "pension", "suspended", map[string]any{"household_id": 7})

	// Invalid, and refused by the decoder only.
	add("bad check digit", "pension", "suspended", map[string]any{"person_id": badCheck})
	add("impossible birth date", "pension", "suspended", map[string]any{"person_id": personID("19520230", 1)})
	add("future birth date", "pension", "suspended", map[string]any{"person_id": personID("20990101", 1)})
	add("occurred_at impossible", "pension", "suspended", map[string]any{"occurred_at": "2025-02-30T08:00:00Z"})
	add("occurred_at future", "pension", "suspended", map[string]any{"occurred_at": future})
	add("birth date feb 30", "registry", "member_joined", map[string]any{"household_id": "H1", "birth_date": "1990-02-30"})
	add("household_id 150 bytes", "pension", "suspended", map[string]any{"household_id": wide})
	add("too large", "registry", "member_joined", map[string]any{"household_id": "H1", "pad": strings.Repeat("x", 70<<10)})

	// The decoder's fuzz seeds (stream/decode_test.go).
	for _, typ := range []string{"member_joined", "member_left", "died", "admitted", "discharged", "started", "stopped", "employed", "unemployed", "registered", "revoked"} {
		for _, f := range feed.Feeds {
			add("fuzz seed "+typ, f, typ, map[string]any{"household_id": "H1", "admission_id": "A", "icd10": "I21.9", "total_cost": 1, "insured_cost": 0, "out_of_pocket": 1, "monthly_amount": 2, "monthly_wage": 3, "grade": 2})
		}
	}
	for _, s := range []string{
		`{"event_id":"x","type":"admitted","person_id":"11010519491231002X","occurred_at":"2024-01-01T00:00:00Z","admission_id":"a","icd10":"C92.0"}`,
		`{"event_id":"x","type":"died","person_id":null}`, `[]`, `{"grade":1e999}`,
	} {
		for _, f := range feed.Feeds {
			raw("fuzz seed", f, s)
		}
	}
	return c
}

// fuzzCorpus reads the decoder's committed fuzz corpus (stream/testdata/fuzz/FuzzDecode), if any:
// every input against every feed.
func fuzzCorpus(t *testing.T) []record {
	dir := filepath.Join(repo, "stream", "testdata", "fuzz", "FuzzDecode")
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var c []record
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		// go test fuzz v1, then one line: []byte("...")
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("fuzz corpus file %s: not one []byte input", e.Name())
		}
		v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("fuzz corpus file %s: %v", e.Name(), err)
		}
		for _, f := range feed.Feeds {
			c = append(c, record{"fuzz corpus " + e.Name(), f, []byte(v)})
		}
	}
	return c
}

// agreement runs one record through the decoder and the feed's schema and says how they
// disagree, if they do; hit is the decoder-only check that explains a schema's acceptance.
func agreement(s *Schemas, r record, now time.Time) (problem string, hit int) {
	_, derr := feed.Decode(r.feed, r.raw, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, now)
	serr := schemaCheck(s, r)
	switch {
	case derr == nil && serr != nil:
		return fmt.Sprintf("the decoder accepts it, the schema refuses it: %v", serr), -1
	case derr != nil && serr == nil:
		i := decoderOnlyIndex(derr)
		if i < 0 {
			return fmt.Sprintf("the decoder refuses it (%v), the schema accepts it, and that check is not in the decoder-only list", derr), -1
		}
		return "", i
	}
	return "", -1
}

// schemaCheck validates a feed record against its feed's schema: a record that is not one JSON
// value is refused as any JSON tool would refuse it.
func schemaCheck(s *Schemas, r record) error {
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return fmt.Errorf("not one JSON value")
	}
	return s.Validate("schemas/feeds/"+r.feed+".schema.json", r.raw)
}

// TestDecoderAndSchemasAgree: on the hand corpus and the fuzz corpus, every record the decoder
// accepts the schema accepts, and every record it refuses the schema refuses too, unless the
// check is one JSON Schema cannot make (decoderOnly); each of those is met at least once.
func TestDecoderAndSchemasAgree(t *testing.T) {
	s := loadSchemas(t)
	corpus := append(handCorpus(), fuzzCorpus(t)...)
	hits := make([]int, len(decoderOnly))
	accepted, refused := 0, 0
	for _, r := range corpus {
		problem, hit := agreement(s, r, corpusNow)
		if problem != "" {
			t.Errorf("%s (%s feed) %.80q: %s", r.name, r.feed, r.raw, problem)
		}
		if hit >= 0 {
			hits[hit]++
		}
		if _, derr := feed.Decode(r.feed, r.raw, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, corpusNow); derr == nil {
			accepted++
		} else {
			refused++
		}
	}
	for i, d := range decoderOnly {
		if hits[i] == 0 {
			t.Errorf("decoder-only check %s/%s (%s) never met: the corpus no longer covers it, or the schema now makes it", d.reason, d.field, d.why)
		}
	}
	if accepted < 20 || refused < 60 {
		t.Errorf("corpus: %d accepted, %d refused; want at least 20 and 60", accepted, refused)
	}
	t.Logf("%d records: %d accepted, %d refused; decoder-only hits %v", len(corpus), accepted, refused, hits)
}

// TestDecoderAndSchemasAgreeOnFeedgen: the same on the synthetic feeds, malformed events
// included, as the demo and the benchmarks produce them.
func TestDecoderAndSchemasAgreeOnFeedgen(t *testing.T) {
	s := loadSchemas(t)
	g := feedgen.New(feedgen.Config{Seed: 17, Households: 2000, Start: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		MalformedRate: 0.05, DuplicateRate: 0.01, UnknownPersonRate: 0.01})
	// The simulated clock runs years past Start; judge the events from after it, as
	// stream/feedgen's own decoder test does.
	now := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	events := g.Registry()
	for range 10_000 {
		events = append(events, g.Next())
	}
	malformed := map[string]int{}
	for i, ev := range events {
		problem, _ := agreement(s, record{"feedgen", ev.Feed, ev.Value}, now)
		if problem != "" {
			t.Errorf("feedgen event %d (%s, malformed %v %s) %.120q: %s", i, ev.Feed, ev.Malformed, ev.Reason, ev.Value, problem)
		}
		if ev.Malformed {
			malformed[ev.Reason]++
		}
	}
	if len(malformed) < 7 {
		t.Errorf("malformed reasons seen: %v, want all seven", malformed)
	}
	t.Logf("%d events; malformed by reason: %v", len(events), malformed)
}
