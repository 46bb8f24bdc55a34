package household

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unsafe"

	"safetynet/scorer"
	"safetynet/stream/feed"
)

// The stored form of a household (Badger values and changelog records) is a compact binary
// encoding: JSON spent most of the monitor's time and made values of about 2 KB, which Badger
// keeps in its value log, rewritten on every update. The first byte tells the forms apart:
// householdBinaryV2 here (V1 is still read), '{' for the JSON that earlier builds wrote (still
// read).
//
// Layout (uvarint lengths and counts, zigzag varints for signed numbers, IEEE 754 bits for
// floats, times as seconds since 0001-01-01 UTC and nanoseconds):
//
//	version, id, partition, level, score, episode, open, seq, below_since, next_check,
//	assessed_at, updated_at, alerts (count, then id, status, level, score, emitted_at),
//	persons (count, then by key order: key, masked, five fact lists: count, then facts).
//
// A fact is at, id, type, sex, relation, admission id, ICD-10, kind, a bit set of the optional
// fields present, then those fields (the area code is the newest: older values lack its bit).
//
// Version 2 appends the model version after the persons; a version 1 value reads with none.
// Version 3 appends the casework (cases_codec.go); earlier values read with none.
// Version 4 gives each person two more fact lists (assets, funds), facts four more optional
// fields (asset id, value, balance, contribution: bits that earlier facts never set), and
// appends the declarations (applications, verifications, false declarations) after the
// casework; earlier values read with none of them.
// Version 5 writes the casework and the declarations in binary (cases_codec.go), where 3 and 4
// wrote JSON documents.
// Version 6 writes a fact smaller (appendFact): its id as the length it shares with the id
// before it in its list and the rest, its type as a code (codeTable), the five strings after a
// byte saying which are set (most facts set none), and its amounts as varints when they are
// whole numbers; and an alert entry's status and level as codes. A household with the
// benchmark's history takes 695 bytes instead of 922 (docs/performance.md, sixteenth round).
const (
	householdBinaryV1 = 0x01
	householdBinaryV2 = 0x02
	householdBinaryV3 = 0x03
	householdBinaryV4 = 0x04
	householdBinaryV5 = 0x05
	householdBinaryV6 = 0x06
	// householdBinaryLatest is the version Encode writes; Decode and PartitionOf read every
	// version up to it. A new version changes this one line.
	householdBinaryLatest = householdBinaryV6
)

// zeroUnix is time.Time{}.Unix(): times are stored relative to it so the zero time is 0.
const zeroUnix = -62135596800

// Encode is the stored (binary) form of a household, in the latest version.
func Encode(h *Household) ([]byte, error) { return encodeAs(h, householdBinaryLatest) }

// Formats a running service may be told to write (SAFETYNET_STATE_FORMAT): the latest, and the
// one before it, which the previous release reads. An instance of the previous release that
// takes over a partition during a rolling update skips changelog records in a format it cannot
// read, so the update is made in two steps (docs/operations.md#upgrades).
const (
	FormatLatest   = int(householdBinaryLatest)
	FormatPrevious = int(householdBinaryV5)
)

// AppendEncode appends the stored form of a household in format (FormatLatest or
// FormatPrevious; 0 is the latest) to dst: a caller that encodes many households one after
// another into one slab (the monitor's batch does) allocates once for all of them, where
// Encode's buffer grows two or three times for a household with history.
func AppendEncode(dst []byte, h *Household, format int) ([]byte, error) {
	if format == 0 {
		format = FormatLatest
	}
	if err := CheckFormat(format); err != nil {
		return nil, err
	}
	return appendEncodeAs(dst, h, byte(format))
}

// CheckFormat refuses a format that AppendEncode does not write.
func CheckFormat(format int) error {
	if format != FormatLatest && format != FormatPrevious {
		return fmt.Errorf("format %d: only %d, or %d during a rolling update from the release before, is written", format, FormatLatest, FormatPrevious)
	}
	return nil
}

// encodeAs writes the layout of version (the earlier ones for the tests that read them).
func encodeAs(h *Household, version byte) ([]byte, error) {
	return appendEncodeAs(make([]byte, 0, 256+200*len(h.Persons)), h, version)
}

func appendEncodeAs(b []byte, h *Household, version byte) ([]byte, error) {
	b = append(b, version)
	b = appendString(b, h.ID)
	b = binary.AppendVarint(b, int64(h.Partition))
	b = appendString(b, h.Level)
	b = appendFloat(b, h.Score)
	b = binary.AppendVarint(b, int64(h.Episode))
	b = appendBool(b, h.Open)
	b = binary.AppendVarint(b, int64(h.Seq))
	b = appendTime(b, h.BelowSince)
	b = appendTime(b, h.NextCheck)
	b = appendTime(b, h.AssessedAt)
	b = appendTime(b, h.Updated)
	b = binary.AppendUvarint(b, uint64(len(h.Alerts)))
	for _, a := range h.Alerts {
		b = appendAlertEntry(b, a.AlertID, a.Status, a.Level, a.Score, a.EmittedAt, version)
	}
	var small [8]string // most households: the keys' slice stays on the stack
	keys := small[:0]
	for k := range h.Persons {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		p := h.Persons[k]
		if p == nil {
			return nil, fmt.Errorf("household %s: person %s is nil", h.ID, k)
		}
		b = appendString(b, k)
		b = appendString(b, p.Masked)
		lists := [...][]Fact{p.Registry, p.Employment, p.Pension, p.Disability, p.Hospital, p.Assets, p.Funds}
		if version < householdBinaryV4 {
			lists[5], lists[6] = nil, nil
		}
		for _, list := range lists[:listsOf(version)] {
			b = binary.AppendUvarint(b, uint64(len(list)))
			prev := ""
			for i := range list {
				b = appendFact(b, &list[i], prev, version)
				prev = list[i].ID
			}
		}
	}
	if version < householdBinaryV2 {
		return b, nil
	}
	b = appendString(b, h.ModelVersion)
	if version < householdBinaryV3 {
		return b, nil
	}
	b, err := appendCasework(b, h.Casework, version)
	if err != nil || version < householdBinaryV4 {
		return b, err
	}
	return appendDeclarations(b, h.Declarations, version)
}

// listsOf is the number of fact lists per person in version's layout.
func listsOf(version byte) int {
	if version < householdBinaryV4 {
		return 5
	}
	return 7
}

// Bits of the optional fields of a fact.
const (
	hasBirthDate = 1 << iota
	hasCriticalIllness
	hasTotalCost
	hasInsuredCost
	hasOutOfPocket
	hasMonthlyAmount
	hasMonthlyWage
	hasRegistered
	hasGrade
	hasAreaCode
	hasAssetID
	hasValue
	hasBalance
	hasContribution
)

// codeTable gives each of a fixed list of strings a code, its place in the list plus one, so
// that version 6 writes a uvarint (a byte) where earlier versions wrote the string. Code 0 is a
// string written out: one the list lacks (a type a later feed adds) still round-trips. A list
// is only ever appended to: a code, once written, means its string for good (the tests pin
// each list).
type codeTable struct {
	names []string
	code  map[string]uint64
}

func newCodeTable(names ...string) codeTable {
	t := codeTable{names: names, code: make(map[string]uint64, len(names))}
	for i, n := range names {
		t.code[n] = uint64(i + 1)
	}
	return t
}

func (t codeTable) append(b []byte, s string) []byte {
	if c, ok := t.code[s]; ok {
		return binary.AppendUvarint(b, c)
	}
	return appendString(append(b, 0), s)
}

// coded reads what codeTable.append wrote; what names what is read, for the error.
func (d *decoder) coded(t codeTable, what string) string {
	switch c := d.uvarint(); {
	case d.err != nil:
		return ""
	case c == 0:
		return d.string()
	case c <= uint64(len(t.names)):
		return t.names[c-1]
	default:
		d.fail("unknown " + what + " code")
		return ""
	}
}

// factTypes, alertStatuses and alertLevels are the strings version 6 writes as codes.
var (
	factTypes = newCodeTable(
		"member_joined", "member_left", "died", // registry
		"admitted", "discharged", // hospital
		"started", "changed", "suspended", "stopped", // pension (and disability's "changed")
		"employed", "unemployed", // employment
		"registered", "revoked", // disability
		feed.VehicleRegistered, feed.VehicleDeregistered, feed.PropertyRegistered, feed.PropertyTransferred, // assets
		feed.BusinessRegistered, feed.BusinessDeregistered, feed.DepositsReported, feed.ProvidentFundPaid,
	)
	alertStatuses = newCodeTable(StatusRaised, StatusEscalated, StatusDeescalated, StatusResolved)
	alertLevels   = newCodeTable(scorer.LevelNone, scorer.LevelWatch, scorer.LevelWarning, scorer.LevelUrgent)
)

// appendFact writes a fact; prev is the id of the fact before it in its list ("" for the first),
// the start of which version 6 does not write again.
func appendFact(b []byte, f *Fact, prev string, version byte) []byte {
	b = appendTime(b, f.At)
	if version < householdBinaryV6 {
		b = appendString(b, f.ID)
		b = appendString(b, f.Type)
		b = appendString(b, f.Sex)
		b = appendString(b, f.Relation)
		b = appendString(b, f.AdmissionID)
		b = appendString(b, f.ICD10)
		b = appendString(b, f.Kind)
	} else {
		// A feed's event ids mostly share their start ("emp-1cc520-000087333", then
		// "emp-1cc520-000196865"): the length shared with the id before, then the rest.
		p := 0
		for p < len(prev) && p < len(f.ID) && prev[p] == f.ID[p] {
			p++
		}
		b = binary.AppendUvarint(b, uint64(p))
		b = appendString(b, f.ID[p:])
		b = factTypes.append(b, f.Type)
		// A byte whose bits 0–4 say which of these five are set, then those set, in order
		// (fact reads them in the same order).
		strs := [...]string{f.Sex, f.Relation, f.AdmissionID, f.ICD10, f.Kind}
		var set byte
		for i, s := range strs {
			if s != "" {
				set |= 1 << i
			}
		}
		b = append(b, set)
		for _, s := range strs {
			if s != "" {
				b = appendString(b, s)
			}
		}
	}
	amount := appendFloat
	if version >= householdBinaryV6 {
		amount = appendAmount
	}
	var bits uint64
	for i, present := range [...]bool{f.BirthDate != nil, f.CriticalIllness != nil, f.TotalCost != nil, f.InsuredCost != nil,
		f.OutOfPocket != nil, f.MonthlyAmount != nil, f.MonthlyWage != nil, f.Registered != nil, f.Grade != nil, f.AreaCode != "",
		f.AssetID != "", f.Value != nil, f.Balance != nil, f.Contribution != nil} {
		if present {
			bits |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, bits)
	if f.BirthDate != nil {
		b = appendTime(b, *f.BirthDate)
	}
	if f.CriticalIllness != nil {
		b = appendBool(b, *f.CriticalIllness)
	}
	for _, x := range [...]*float64{f.TotalCost, f.InsuredCost, f.OutOfPocket, f.MonthlyAmount, f.MonthlyWage} {
		if x != nil {
			b = amount(b, *x)
		}
	}
	if f.Registered != nil {
		b = appendBool(b, *f.Registered)
	}
	if f.Grade != nil {
		b = binary.AppendVarint(b, int64(*f.Grade))
	}
	if f.AreaCode != "" {
		b = appendString(b, f.AreaCode)
	}
	if f.AssetID != "" {
		b = appendString(b, f.AssetID)
	}
	for _, x := range [...]*float64{f.Value, f.Balance, f.Contribution} {
		if x != nil {
			b = amount(b, *x)
		}
	}
	return b
}

// appendAmount writes an amount of money as version 6 does: a whole number of less than 2^53
// in magnitude as the uvarint of its zigzag form shifted left by one (so an even number), and
// any other (fractions, -0, infinities, NaN) as 1 and then its IEEE 754 bits. Amounts in yuan
// are mostly whole: three bytes instead of eight.
func appendAmount(b []byte, f float64) []byte {
	if i := int64(f); float64(i) == f && i > -1<<53 && i < 1<<53 && (f != 0 || !math.Signbit(f)) {
		return binary.AppendUvarint(b, (uint64(i<<1)^uint64(i>>63))<<1)
	}
	return appendFloat(append(b, 1), f)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendUvarint(b, uint64(t.Unix()-zeroUnix))
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// Decode reads a household's stored form.
func Decode(b []byte) (*Household, error) { return decode(b, false, false) }

// DecodeImmutable is Decode for a stored form that nothing will ever write to again (a value
// copied out of the store, or one the monitor's cache holds): the household's strings point
// into b itself rather than into a copy of it, which saves the copy (1,278 of the 8,848 bytes
// the hot-path fixture's households allocated each). Writing to b afterwards would change the
// household.
func DecodeImmutable(b []byte) (*Household, error) { return decode(b, false, true) }

// DecodeSummary reads a household's stored form without its persons, alerts and declarations
// (Persons, Alerts and Declarations are left empty): its id, level, score, timer, model version
// and casework, for a restore from the changelog, which needs no more for most households and
// spent a third of its allocations and most of its collector's work decoding facts. Those parts
// are still read through (a damaged value is refused as by Decode) but nothing of them is kept.
func DecodeSummary(b []byte) (*Household, error) { return decode(b, true, false) }

func decode(b []byte, summary, immutable bool) (*Household, error) {
	if len(b) > 0 && b[0] == '{' {
		var h Household
		if err := json.Unmarshal(b, &h); err != nil {
			return nil, fmt.Errorf("decode household state: %w", err)
		}
		if h.Persons == nil {
			h.Persons = map[string]*Person{}
		}
		return &h, nil
	}
	if len(b) == 0 || b[0] < householdBinaryV1 || b[0] > householdBinaryLatest {
		return nil, errors.New("decode household state: unknown encoding")
	}
	// Every string of the household is a substring of one copy of the value, and the optional
	// fields of the facts point into a few slabs: a household decodes in a few dozen
	// allocations, not one per string and per number (household_codec_bench_test.go).
	d := decoder{b: b[1:], version: b[0]}
	switch {
	case summary || len(b) == 1:
	case immutable:
		d.all = unsafe.String(&b[1], len(b)-1)
	default:
		d.all = string(b[1:])
	}
	h := &Household{}
	h.ID = d.string()
	h.Partition = int(d.varint())
	h.Level = d.string()
	h.Score = d.float()
	h.Episode = int(d.varint())
	h.Open = d.bool()
	h.Seq = int(d.varint())
	h.BelowSince = d.time()
	h.NextCheck = d.time()
	h.AssessedAt = d.time()
	h.Updated = d.time()
	d.discard = summary
	if n := d.count(); n > 0 {
		var scratch AlertRef
		if !summary {
			h.Alerts = make([]AlertRef, n)
		}
		for i := range n {
			a := &scratch
			if !summary {
				a = &h.Alerts[i]
			}
			a.AlertID, a.Status, a.Level, a.Score, a.EmittedAt = d.alertEntry()
		}
	}
	n := d.count()
	if summary {
		d.skipPersons(n, b[0])
	} else {
		h.Persons = make(map[string]*Person, n)
		persons := make([]Person, n)
		for i := range n {
			k := d.string()
			p := &persons[i]
			p.Masked = d.string()
			lists := [...]*[]Fact{&p.Registry, &p.Employment, &p.Pension, &p.Disability, &p.Hospital, &p.Assets, &p.Funds}
			for _, list := range lists[:listsOf(b[0])] {
				if m := d.count(); m > 0 {
					*list = d.facts(m)
					d.startList()
					for i := range *list {
						d.fact(&(*list)[i])
					}
				}
			}
			h.Persons[k] = p
		}
	}
	d.discard = false
	if b[0] >= householdBinaryV2 {
		h.ModelVersion = d.string()
	}
	if b[0] >= householdBinaryV3 {
		h.Casework = d.casework(b[0])
	}
	if b[0] >= householdBinaryV4 {
		d.discard = summary
		h.Declarations = d.declarations(b[0])
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode household state: %w", d.err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("decode household state: %d bytes left over", len(d.b))
	}
	return h, nil
}

// decoder reads the binary form; the first error sticks and later reads return zero values.
// all is b as a string (when set, strings are read as substrings of it); the slabs hold the
// optional fields of the facts the decoder has read. While discard is set, strings are read
// past and returned empty.
type decoder struct {
	b       []byte
	all     string
	err     error
	discard bool
	version byte

	floats []float64
	bools  []bool
	ints   []int
	times  []time.Time

	factSlab []Fact

	// prevID is the id of the fact read before in the list being read, and prevIDLen its
	// length (kept while discarding, when prevID is not built); ids holds the ids version 6
	// rebuilt from a shared start, which nothing writes to once built.
	prevID    string
	prevIDLen int
	ids       []byte
}

// slab returns a pointer to a new element of *s, which grows in chunks that are never
// reallocated: earlier pointers stay valid.
func slab[T any](s *[]T, v T) *T {
	if len(*s) == cap(*s) {
		*s = make([]T, 0, 16)
	}
	*s = append(*s, v)
	return &(*s)[len(*s)-1]
}

var errShort = errors.New("truncated")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count is a list length, refused when longer than the bytes left could hold.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		if d.err == nil {
			d.err = errShort
		}
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	return d.take(n)
}

// take reads the next n bytes (n checked by count) as a string: a substring of all, or a copy
// when there is none, or "" while discarding.
func (d *decoder) take(n int) string {
	var s string
	switch {
	case n == 0 || d.discard:
	case d.all != "":
		at := len(d.all) - len(d.b)
		s = d.all[at : at+n]
	default:
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.err = errShort
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) bool() bool { return d.byte() != 0 }

// byte reads one byte.
func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.err = errShort
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// appendAlertEntry writes an alert as a household's history (AlertRef) and a case's timeline
// (CaseAlert) both keep it: id, status, level, score and time; version 6 writes the status and
// the level as codes.
func appendAlertEntry(b []byte, id, status, level string, score float64, at time.Time, version byte) []byte {
	b = appendString(b, id)
	if version < householdBinaryV6 {
		b = appendString(b, status)
		b = appendString(b, level)
	} else {
		b = alertStatuses.append(b, status)
		b = alertLevels.append(b, level)
	}
	b = appendFloat(b, score)
	return appendTime(b, at)
}

// alertEntry reads what appendAlertEntry wrote.
func (d *decoder) alertEntry() (id, status, level string, score float64, at time.Time) {
	id = d.string()
	if d.version < householdBinaryV6 {
		status, level = d.string(), d.string()
	} else {
		status, level = d.coded(alertStatuses, "alert status"), d.coded(alertLevels, "alert level")
	}
	return id, status, level, d.float(), d.time()
}

func (d *decoder) time() time.Time {
	s := d.uvarint()
	ns := d.uvarint()
	if d.err != nil || (s == 0 && ns == 0) {
		return time.Time{}
	}
	if ns >= 1e9 {
		d.err = errors.New("bad nanoseconds")
		return time.Time{}
	}
	return time.Unix(int64(s)+zeroUnix, int64(ns)).UTC()
}

// skipPersons reads past n persons of a value in version's layout without keeping them (with
// discard set): every fact is read into one scratch fact, its optional fields into the
// decoder's slabs, which are emptied each time, so the bulk of a household allocates nothing.
func (d *decoder) skipPersons(n int, version byte) {
	var f Fact
	for range n {
		d.string() // key
		d.string() // masked
		for range listsOf(version) {
			d.startList()
			for range d.count() {
				d.floats, d.bools, d.ints, d.times = d.floats[:0], d.bools[:0], d.ints[:0], d.times[:0]
				d.fact(&f)
			}
		}
	}
}

// facts returns a list of m facts carved from a slab shared by the household's lists. Its
// capacity is its length, so a fact inserted later moves the list out of the slab rather than
// over the next list.
func (d *decoder) facts(m int) []Fact {
	if len(d.factSlab)+m > cap(d.factSlab) {
		d.factSlab = make([]Fact, 0, max(m, 8))
	}
	at := len(d.factSlab)
	d.factSlab = d.factSlab[:at+m]
	return d.factSlab[at : at+m : at+m]
}

// startList starts the reading of a list of facts: the first id shares nothing with one before.
func (d *decoder) startList() { d.prevID, d.prevIDLen = "", 0 }

func (d *decoder) fact(f *Fact) {
	f.At = d.time()
	amount := d.float
	if d.version < householdBinaryV6 {
		f.ID = d.string()
		f.Type = d.string()
		f.Sex = d.string()
		f.Relation = d.string()
		f.AdmissionID = d.string()
		f.ICD10 = d.string()
		f.Kind = d.string()
	} else {
		amount = d.amount
		f.ID = d.factID()
		f.Type = d.coded(factTypes, "fact type")
		set := d.byte()
		for i, s := range [...]*string{&f.Sex, &f.Relation, &f.AdmissionID, &f.ICD10, &f.Kind} {
			if set&(1<<i) != 0 {
				*s = d.string()
			} else {
				*s = ""
			}
		}
	}
	bits := d.uvarint()
	if bits&hasBirthDate != 0 {
		// state written before the month-only rule kept the day
		f.BirthDate = slab(&d.times, feed.BirthMonth(d.time()))
	}
	if bits&hasCriticalIllness != 0 {
		f.CriticalIllness = slab(&d.bools, d.bool())
	}
	for i, p := range [...]**float64{&f.TotalCost, &f.InsuredCost, &f.OutOfPocket, &f.MonthlyAmount, &f.MonthlyWage} {
		if bits&(hasTotalCost<<i) != 0 {
			*p = slab(&d.floats, amount())
		}
	}
	if bits&hasRegistered != 0 {
		f.Registered = slab(&d.bools, d.bool())
	}
	if bits&hasGrade != 0 {
		f.Grade = slab(&d.ints, int(d.varint()))
	}
	if bits&hasAreaCode != 0 {
		f.AreaCode = d.string()
	}
	if bits&hasAssetID != 0 {
		f.AssetID = d.string()
	}
	for i, p := range [...]**float64{&f.Value, &f.Balance, &f.Contribution} {
		if bits&(hasValue<<i) != 0 {
			*p = slab(&d.floats, amount())
		}
	}
}

// factID reads a version 6 fact id: the length it shares with the id before it, then the rest.
// An id that shares nothing is a substring of the value like any string; one that does is
// built in d.ids, a slab of a few hundred bytes that serves the household's ids.
func (d *decoder) factID() string {
	p := d.uvarint()
	if d.err == nil && p > uint64(d.prevIDLen) {
		d.fail("fact id shares more than the id before it")
	}
	n := d.count()
	if d.err != nil {
		return ""
	}
	d.prevIDLen = int(p) + n
	if p == 0 || d.discard {
		d.prevID = d.take(n)
		return d.prevID
	}
	if cap(d.ids)-len(d.ids) < d.prevIDLen {
		d.ids = make([]byte, 0, max(d.prevIDLen, 256))
	}
	at := len(d.ids)
	d.ids = append(append(d.ids, d.prevID[:p]...), d.b[:n]...)
	d.b = d.b[n:]
	d.prevID = unsafe.String(&d.ids[at], d.prevIDLen)
	return d.prevID
}

// amount reads what appendAmount wrote.
func (d *decoder) amount() float64 {
	v := d.uvarint()
	switch {
	case d.err != nil:
		return 0
	case v == 1:
		return d.float()
	case v&1 != 0:
		d.fail("bad amount tag")
		return 0
	}
	z := v >> 1
	return float64(int64(z>>1) ^ -int64(z&1))
}
