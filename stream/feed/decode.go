package feed

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	json "github.com/goccy/go-json"
)

// Dead-letter reason codes: a closed set, documented in docs/feeds.md and used as a metric label.
const (
	ReasonMalformedJSON = "malformed_json" // not one JSON object
	ReasonMissingField  = "missing_field"  // a required field is absent or null
	ReasonBadType       = "bad_type"       // a field has the wrong JSON type
	ReasonBadValue      = "bad_value"      // a field has the right type but an impossible value
	ReasonBadPersonID   = "bad_person_id"  // person_id is not a valid GB 11643 resident ID number
	ReasonBadTime       = "bad_time"       // occurred_at is not RFC 3339, or too far in the future
	ReasonUnknownType   = "unknown_type"   // type is not one of the feed's types
	ReasonTooLarge      = "too_large"      // the record is larger than the size limit
	ReasonUnknownPerson = "unknown_person" // the registry did not name the person within the wait
)

// ReasonBadInternalEvent is the monitor's: a household event it cannot apply (an intake and
// monitor of different versions). Feed records never get it.
const ReasonBadInternalEvent = "bad_internal_event"

// ReasonHouseholdTooLarge is the monitor's: the event would add a person to a household that
// already holds the most persons allowed (SAFETYNET_MAX_HOUSEHOLD_MEMBERS), which keeps every
// household's stored state and changelog record under the broker's record size limit.
const ReasonHouseholdTooLarge = "household_too_large"

// ReasonParkFull is intake's: the event of a person the registry does not know yet could not be
// parked, because the parked events already reach SAFETYNET_PARK_MAX_EVENTS or
// SAFETYNET_PARK_MAX_BYTES.
const ReasonParkFull = "park_full"

// Reasons lists every reason code of a feed record.
var Reasons = []string{ReasonMalformedJSON, ReasonMissingField, ReasonBadType, ReasonBadValue,
	ReasonBadPersonID, ReasonBadTime, ReasonUnknownType, ReasonTooLarge, ReasonUnknownPerson,
	ReasonHouseholdTooLarge, ReasonParkFull}

// DecodeError says why a feed record was refused: a reason code, the field concerned (if any)
// and a detail for people. It never contains a resident ID number in the clear.
type DecodeError struct {
	Reason string
	Field  string
	Detail string
}

func (e *DecodeError) Error() string {
	if e.Field != "" {
		return e.Reason + ": " + e.Field + ": " + e.Detail
	}
	return e.Reason + ": " + e.Detail
}

// refuse is the DecodeError of a record refused for reason, at field.
func refuse(reason, field, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: reason, Field: field, Detail: ScrubIDs(fmt.Sprintf(format, args...))}
}

// Event types per feed.
var feedTypes = map[string][]string{
	Registry:     {"member_joined", "member_left", "died"},
	Hospital:     {"admitted", "discharged"},
	Pension:      {"started", "changed", "suspended", "stopped"},
	Employment:   {"employed", "unemployed"},
	Disability:   {"registered", "changed", "revoked"},
	Applications: {AppSubmitted, AppWithdrawn, AppDecided},
	Assets: {VehicleRegistered, VehicleDeregistered, PropertyRegistered, PropertyTransferred,
		BusinessRegistered, BusinessDeregistered, DepositsReported, ProvidentFundPaid},
}

// FeedTypes returns the event types of a feed.
func FeedTypes(feed string) []string { return append([]string(nil), feedTypes[feed]...) }

// Relations are the values of a registry event's relation field.
var Relations = []string{"head", "spouse", "child", "parent", "other"}

// RawEvent is a decoded, validated feed event that still holds the resident ID number. It never
// leaves intake: Pseudonymizer.Apply turns it into the canonical HouseholdEvent.
type RawEvent struct {
	// Event has every field but PersonKey and PersonMasked; Source and IngestedAt are set by
	// the caller.
	Event    HouseholdEvent
	personID string
	// memberIDs are the resident ID numbers of an application's declared members, in order.
	memberIDs []string
}

// LogValue keeps the ID number out of logs.
func (r RawEvent) LogValue() slog.Value {
	return slog.GroupValue(slog.String("feed", r.Event.Feed), slog.String("type", r.Event.Type),
		slog.String("event_id", r.Event.EventID), slog.String("person", Mask(r.personID)))
}

// String keeps the ID number out of fmt output.
func (r RawEvent) String() string {
	return fmt.Sprintf("%s/%s %s person %s", r.Event.Feed, r.Event.Type, r.Event.EventID, Mask(r.personID))
}

const (
	maxIDLen     = MaxIDLen
	dateLayout   = "2006-01-02"
	earliestYear = 1900
)

var icd10Re = regexp.MustCompile(`^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$`)

// MaxIDLen is the longest event_id, household_id, admission_id or kind accepted, in bytes. It
// bounds the stored size of a household (docs/operations.md, "Record sizes").
const MaxIDLen = 128

// Defaults of the two limits Decode takes.
const (
	DefaultMaxEventBytes = 64 << 10
	DefaultMaxFutureSkew = 24 * time.Hour
)

// Decode validates one feed record of feed and returns the event, or why it was refused. It is
// strict about the fields the feed and type require, and ignores fields it does not know. now is
// the intake clock; occurred_at may lie at most maxFutureSkew after it.
func Decode(feed string, raw []byte, maxBytes int, maxFutureSkew time.Duration, now time.Time) (RawEvent, *DecodeError) {
	var r RawEvent
	raw = stripWireFraming(raw) // Schema Registry framing (framing.go)
	if maxBytes > 0 && len(raw) > maxBytes {
		return r, refuse(ReasonTooLarge, "", "record is %d bytes, the limit is %d", len(raw), maxBytes)
	}
	types, ok := feedTypes[feed]
	if !ok {
		return r, refuse(ReasonUnknownType, "", "no feed named %q", feed)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return r, refuse(ReasonMalformedJSON, "", "record is not a JSON object")
	}
	obj := objectPool.Get().(map[string]json.RawMessage)
	defer func() { clear(obj); objectPool.Put(obj) }()
	if e := parseObjectInto(trimmed, obj); e != nil {
		return r, e
	}
	d := fields{obj: obj}

	ev := &r.Event
	ev.V = EventVersion
	ev.Feed = feed
	if ev.EventID, ok = d.str("event_id", true); !ok {
		return r, d.err
	}
	if e := checkToken("event_id", ev.EventID); e != nil {
		return r, e
	}
	if ev.Type, ok = d.str("type", true); !ok {
		return r, d.err
	}
	if !contains(types, ev.Type) {
		return r, refuse(ReasonUnknownType, "type", "%q is not a %s event type (want one of %s)", clip(ev.Type), feed, strings.Join(types, ", "))
	}
	pid, ok := d.str("person_id", true)
	if !ok {
		if d.err.Reason == ReasonBadType {
			d.err.Reason = ReasonBadPersonID
		}
		return r, d.err
	}
	id, e := CheckResidentID(pid, now)
	if e != nil {
		return r, e
	}
	r.personID = id
	at, ok := d.str("occurred_at", true)
	if !ok {
		if d.err.Reason == ReasonBadType {
			d.err.Reason = ReasonBadTime
		}
		return r, d.err
	}
	if ev.OccurredAt, e = checkOccurredAt(at, maxFutureSkew, now); e != nil {
		return r, e
	}
	if ev.HouseholdID, ok = d.str("household_id", feed == Registry || feed == Applications); !ok {
		return r, d.err
	}
	if ev.HouseholdID != "" {
		if e := checkToken("household_id", ev.HouseholdID); e != nil {
			return r, e
		}
	}
	if feed == Applications {
		if r.memberIDs, e = decodeApplication(&d, ev, now); e != nil {
			return r, e
		}
		return r, nil
	}
	if feed == Assets {
		return r, decodeAsset(&d, ev)
	}
	if e := decodeFeedFields(feed, &d, ev, id); e != nil {
		return r, e
	}
	return r, nil
}

func decodeFeedFields(feed string, d *fields, ev *HouseholdEvent, id string) *DecodeError {
	ok := true
	switch feed {
	case Registry:
		if ev.BirthDate, ok = d.date("birth_date", false); !ok {
			return d.err
		}
		bd, _ := time.Parse("20060102", id[6:14]) // the ID number encodes it
		if ev.BirthDate == nil {
			ev.BirthDate = &bd
		}
		if !ev.BirthDate.Equal(bd) {
			return refuse(ReasonBadValue, "birth_date", "%s disagrees with the birth date in person_id", ev.BirthDate.Format(dateLayout))
		}
		if ev.BirthDate.After(ev.OccurredAt) {
			return refuse(ReasonBadValue, "birth_date", "%s is after occurred_at", ev.BirthDate.Format(dateLayout))
		}
		if ev.Sex, ok = d.enum("sex", false, "F", "M"); !ok {
			return d.err
		}
		if ev.Sex == "" { // the 17th digit: odd for men, even for women
			ev.Sex = "F"
			if (id[16]-'0')%2 == 1 {
				ev.Sex = "M"
			}
		}
		if ev.Relation, ok = d.enum("relation", false, Relations...); !ok {
			return d.err
		}
		if ev.AreaCode, ok = d.str("area_code", false); !ok {
			return d.err
		}
		if e := checkAreaCode(ev.AreaCode); e != nil {
			return e
		}
	case Hospital:
		if ev.AdmissionID, ok = d.str("admission_id", true); !ok {
			return d.err
		}
		if e := checkToken("admission_id", ev.AdmissionID); e != nil {
			return e
		}
		if ev.ICD10, ok = d.str("icd10", ev.Type == "admitted"); !ok {
			return d.err
		}
		if ev.ICD10 != "" && !icd10Re.MatchString(ev.ICD10) {
			return refuse(ReasonBadValue, "icd10", "%q is not an ICD-10 code like C92.0", clip(ev.ICD10))
		}
		if ev.CriticalIllness, ok = d.boolean("critical_illness", false); !ok {
			return d.err
		}
		discharged := ev.Type == "discharged"
		// Field by field: a table of pointers into ev would move every decoded event to the heap.
		if ev.TotalCost, ok = d.amount("total_cost", discharged); !ok {
			return d.err
		}
		if ev.InsuredCost, ok = d.amount("insured_cost", discharged); !ok {
			return d.err
		}
		if ev.OutOfPocket, ok = d.amount("out_of_pocket", discharged); !ok {
			return d.err
		}
	case Pension:
		if ev.MonthlyAmount, ok = d.amount("monthly_amount", ev.Type == "started" || ev.Type == "changed"); !ok {
			return d.err
		}
	case Employment:
		if ev.MonthlyWage, ok = d.amount("monthly_wage", ev.Type == "employed"); !ok {
			return d.err
		}
		if ev.Registered, ok = d.boolean("registered", false); !ok {
			return d.err
		}
	case Disability:
		if ev.Grade, ok = d.grade("grade", ev.Type != "revoked"); !ok {
			return d.err
		}
		if ev.Kind, ok = d.str("kind", false); !ok {
			return d.err
		}
		if ev.Kind != "" {
			if e := checkToken("kind", ev.Kind); e != nil {
				return e
			}
		}
	}
	return nil
}

// CheckResidentID validates an 18-character resident ID number (GB 11643): 17 digits and a check
// character (ISO 7064 MOD 11-2; X for 10), with a birth date in positions 7–14 that exists and
// is not in the future of now. It returns the normalised number (upper-case X).
func CheckResidentID(s string, now time.Time) (string, *DecodeError) {
	if len(s) != 18 {
		return "", refuse(ReasonBadPersonID, "person_id", "%d characters, want 18", utf8.RuneCountInString(s))
	}
	last := s[17]
	if last == 'x' {
		last = 'X'
	}
	for i := range 18 {
		c := s[i]
		if c >= '0' && c <= '9' || i == 17 && last == 'X' {
			continue
		}
		return "", refuse(ReasonBadPersonID, "person_id", "%s: character %d is not a digit", Mask(s), i+1)
	}
	if want := ResidentIDCheck(s[:17]); last != want {
		return "", refuse(ReasonBadPersonID, "person_id", "%s: check character does not match (ISO 7064 MOD 11-2)", Mask(s))
	}
	bd, err := time.Parse("20060102", s[6:14])
	if err != nil || bd.Year() < earliestYear || bd.After(now) {
		return "", refuse(ReasonBadPersonID, "person_id", "%s: no plausible birth date in positions 7-14", Mask(s))
	}
	if last != s[17] {
		return s[:17] + "X", nil
	}
	return s, nil
}

// ResidentIDCheck computes the GB 11643 check character of the first 17 digits of an ID number.
func ResidentIDCheck(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11]
}

// idWeights are the ISO 7064 MOD 11-2 weights of the 17 digits: 2^(17-i) mod 11 (7, 9, 10, 5,
// …), computed once rather than for every digit of every ID number.
var idWeights = func() (w [17]int) {
	for i := range w {
		w[i] = 1
		for range 17 - i {
			w[i] = w[i] * 2 % 11
		}
	}
	return w
}()

func checkOccurredAt(s string, skew time.Duration, now time.Time) (time.Time, *DecodeError) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, refuse(ReasonBadTime, "occurred_at", "%q is not an RFC 3339 time like 2024-03-01T08:30:00+08:00", clip(s))
	}
	if t.Year() < earliestYear {
		return t, refuse(ReasonBadTime, "occurred_at", "%s is before %d", s, earliestYear)
	}
	if t.After(now.Add(skew)) {
		return t, refuse(ReasonBadTime, "occurred_at", "%s is more than %s in the future", s, skew)
	}
	return t.UTC(), nil
}

// checkToken bounds identifiers: non-empty, at most 128 bytes, printable, no ID number in them.
func checkToken(field, s string) *DecodeError {
	if s == "" {
		return refuse(ReasonBadValue, field, "empty")
	}
	if len(s) > maxIDLen {
		return refuse(ReasonBadValue, field, "%d bytes, the limit is %d", len(s), maxIDLen)
	}
	if e := checkText(field, s); e != nil {
		return e
	}
	if hasIDRun(s) {
		return refuse(ReasonBadValue, field, "looks like it holds a resident ID number (a run of 15 or 18 digits); identifiers must not carry one")
	}
	return nil
}

// fields reads typed fields from a JSON object, keeping the first error.
type fields struct {
	obj map[string]json.RawMessage
	err *DecodeError
}

// get returns the raw value of name, or nil when absent or null; it records missing_field when
// required.
func (d *fields) get(name string, required bool) (json.RawMessage, bool) {
	v, ok := d.obj[name]
	if ok && string(v) == "null" {
		ok = false
	}
	if !ok {
		if required {
			d.err = refuse(ReasonMissingField, name, "required")
			return nil, false
		}
		return nil, true
	}
	return v, true
}

func (d *fields) str(name string, required bool) (string, bool) {
	v, ok := d.get(name, required)
	if !ok || v == nil {
		return "", ok
	}
	s, ok := plainString(v)
	if !ok {
		var u string
		if err := json.Unmarshal(v, &u); err != nil {
			d.err = refuse(ReasonBadType, name, "want a string, got %s", jsonKind(v))
			return "", false
		}
		s = u
	}
	if required && s == "" {
		d.err = refuse(ReasonMissingField, name, "required, got an empty string")
		return "", false
	}
	return s, true
}

// plainString reads a JSON string without escapes: its bytes between the quotes are its value.
// v is a member of a record that parsed and is valid UTF-8 (parseObject), so such a string holds
// no control character and json.Unmarshal would give the same value; false leaves anything else
// (escapes, other types) to json.Unmarshal.
//
// The string is v's own bytes, not a copy: v is a value of the object parseObjectInto filled,
// a slice of the record's copy that splitMembers read (or, for what it does not read, the
// library's copy of that member alone), and nothing writes to either afterwards (the object is
// cleared, not overwritten, before it is reused). One allocation fewer per field read.
func plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || bytes.IndexByte(v, '\\') >= 0 {
		return "", false
	}
	return unsafe.String(&v[1], len(v)-2), true // v[1] exists: at least the closing quote
}

func (d *fields) enum(name string, required bool, allowed ...string) (string, bool) {
	s, ok := d.str(name, required)
	if !ok || s == "" {
		return s, ok
	}
	if !contains(allowed, s) {
		d.err = refuse(ReasonBadValue, name, "%q is not one of %s", clip(s), strings.Join(allowed, ", "))
		return "", false
	}
	return s, true
}

func (d *fields) boolean(name string, required bool) (*bool, bool) {
	v, ok := d.get(name, required)
	if !ok || v == nil {
		return nil, ok
	}
	b := string(v) == "true"
	if !b && string(v) != "false" {
		d.err = refuse(ReasonBadType, name, "want true or false, got %s", jsonKind(v))
		return nil, false
	}
	return &b, true
}

func (d *fields) number(name string, required bool) (*float64, bool) {
	v, ok := d.get(name, required)
	if !ok || v == nil {
		return nil, ok
	}
	if jsonKind(v) != "a number" {
		d.err = refuse(ReasonBadType, name, "want a number, got %s", jsonKind(v))
		return nil, false
	}
	// v is a valid JSON number (splitObject checked it): encoding/json would parse it with
	// strconv.ParseFloat too.
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		d.err = refuse(ReasonBadValue, name, "number %s out of range", clip(string(v)))
		return nil, false
	}
	return &f, true
}

// amount is a non-negative number of yuan.
func (d *fields) amount(name string, required bool) (*float64, bool) {
	f, ok := d.number(name, required)
	if !ok || f == nil {
		return f, ok
	}
	if *f < 0 || *f > 1e12 {
		d.err = refuse(ReasonBadValue, name, "%v yuan is not a plausible amount (want 0 or more)", *f)
		return nil, false
	}
	return f, true
}

// grade is a disability grade, 1 (most severe) to 4.
func (d *fields) grade(name string, required bool) (*int, bool) {
	f, ok := d.number(name, required)
	if !ok || f == nil {
		return nil, ok
	}
	if *f != math.Trunc(*f) || *f < 1 || *f > 4 {
		d.err = refuse(ReasonBadValue, name, "%v is not a grade 1 to 4", *f)
		return nil, false
	}
	g := int(*f)
	return &g, true
}

func (d *fields) date(name string, required bool) (*time.Time, bool) {
	s, ok := d.str(name, required)
	if !ok || s == "" {
		return nil, ok
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		d.err = refuse(ReasonBadValue, name, "%q is not a date that exists (want YYYY-MM-DD)", clip(s))
		return nil, false
	}
	if t.Year() < earliestYear {
		d.err = refuse(ReasonBadValue, name, "%s is before %d", s, earliestYear)
		return nil, false
	}
	return &t, true
}

func jsonKind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonErrText describes a JSON syntax error without quoting the record.
func jsonErrText(err error) string {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	return "invalid JSON: " + clip(err.Error())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// clip shortens a value echoed in a detail.
func clip(s string) string {
	s = ScrubIDs(s) // before cutting: a cut ID number no longer looks like one
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// idRun matches anything shaped like a resident ID number inside free text.
var idRun = regexp.MustCompile(`[0-9]{15}(?:[0-9]{2}[0-9Xx])?`)

// ScrubIDs masks anything shaped like a resident ID number in text meant for people, so that an
// ID number put in the wrong field is not echoed.
func ScrubIDs(s string) string {
	return idRun.ReplaceAllStringFunc(s, Mask)
}

// parseObject splits a feed record (a JSON object) into its members, refusing invalid UTF-8, a
// key given twice and what does not parse.
func parseObject(trimmed []byte) (map[string]json.RawMessage, *DecodeError) {
	obj := map[string]json.RawMessage{}
	if e := parseObjectInto(trimmed, obj); e != nil {
		return nil, e
	}
	return obj, nil
}

// parseObjectInto is parseObject into an empty map of the caller's (Decode reuses its maps).
//
// The record is copied once and split by splitMembers: the members' names and values are that
// copy's bytes, which nothing writes to afterwards, so the strings read from them (plainString)
// may keep them. The JSON library, which copied every name and value out on its own (two
// allocations per member, 14% of the service's allocations in the throughput benchmark),
// reads only what the scanner does not, and its verdict and message stand for those.
func parseObjectInto(trimmed []byte, obj map[string]json.RawMessage) *DecodeError {
	if e := checkUTF8(trimmed); e != nil {
		return e
	}
	if dup, ok := splitMembers(bytes.Clone(trimmed), obj); ok {
		if dup != "" {
			return refuseDuplicate(dup)
		}
		return nil
	}
	// What the scanner does not read goes to the library; a record it reads (nested deeper
	// than the scanner goes) is then checked for a key given twice, which the library keeps
	// the last of.
	clear(obj)
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return refuse(ReasonMalformedJSON, "", "%s", jsonErrText(err))
	}
	if key, dup := duplicateKey(trimmed); dup {
		return refuseDuplicate(key)
	}
	return nil
}

// objectPool holds the maps Decode splits records into, cleared after each record: they hold
// slices of their record's copy, which the decoded event may point into.
var objectPool = sync.Pool{New: func() any { return make(map[string]json.RawMessage, 16) }}

// splitObject splits a JSON object into its members as json.Unmarshal into a
// map[string]json.RawMessage would (a fuzz target compares the two): by splitMembers over a
// copy of b, or by the library for what the scanner does not read and for a name given twice
// (the library keeps the last).
func splitObject(b []byte) (map[string]json.RawMessage, error) {
	obj := map[string]json.RawMessage{}
	if t := b[skipSpace(b, 0):]; utf8.Valid(t) {
		if dup, ok := splitMembers(bytes.Clone(t), obj); ok && dup == "" {
			return obj, nil
		}
	}
	obj = nil
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}
