// Package wire writes a simulated event as the agencies write it (docs/feeds.md): a Record
// (feed, type, resident ID, time and the type's fields) becomes the JSON value and the Kafka key,
// with the agency's own event id; and it writes it wrong the ways agencies' systems do
// (Mutate, Corrupt: a missing field, a wrong type, an impossible date, a mistyped ID number,
// broken JSON), naming the dead-letter reason intake must give. Dates and times are written by
// hand (civil.go): the generator writes a few per event, and time.Time.AppendFormat would
// dominate its cost.
//
// It simulates nothing: package feedgen decides what happens to whom and when, and draws the
// faults' rates; this package only writes records, deterministically given its inputs.
package wire

import (
	"math"
	"strconv"

	"safetynet/stream/feed"
)

// Record is one event before encoding.
type Record struct {
	Feed       uint8
	Type       string
	Seq        uint64 // event number within the feed; 0 until encoded
	PID        [18]byte
	HH         string // registry events only
	Area       string // member_joined: the household's 12-digit area code
	At         int64  // occurred_at, Unix seconds
	Birth      int64  // member_joined: days since 1970-01-01
	Sex        byte
	Rel        uint8
	Admission  uint64
	ICD        string
	Crit       int8 // critical_illness: -1 absent, 0 false, 1 true
	Total      float64
	Insured    float64
	OOP        float64
	Amount     float64 // pension monthly_amount or monthly_wage
	Registered bool
	Grade      int8
	Kind       uint8

	// Assets feed.
	AssetID      string  // registrations and their ends
	Value        float64 // of the asset; 0: not written
	Balance      float64 // deposits_reported
	Contribution float64 // provident_fund_paid: monthly contribution

	// Applications feed (HH names the household).
	AppID    string
	Program  string
	Decision string  // decided: approved, rejected
	Benefit  float64 // decided approved: monthly_benefit
	Declared *Declared
}

// Declared is what a submitted application declares. Records share it (resends, corrupted
// copies): do not modify it once encoded.
type Declared struct {
	Members         []DeclaredMember
	Vehicles        int
	Properties      int
	FinancialAssets float64
	BusinessOwner   bool
}

// DeclaredMember is one declared member.
type DeclaredMember struct {
	PID           [18]byte
	MonthlyIncome float64
}

// Set sets the feed and the type.
func (r *Record) Set(feed uint8, typ string) { r.Feed, r.Type = feed, typ }

// Mutation makes an event invalid: drop a field, or replace a field's raw JSON value.
type Mutation struct {
	Drop    string
	Replace string
	Raw     string
	Key     []byte // the Key when person_id is replaced
}

// encoder appends a JSON object field by field, applying a mutation.
type encoder struct {
	b     []byte
	mut   *Mutation
	first bool
}

// key writes the field name and reports whether the caller should write the value.
func (e *encoder) key(k string) bool { return e.keyAt(k, k) }

// keyAt is key for a field inside a nested object: path names it for the mutation
// (declared.members[1].person_id), name is what is written.
func (e *encoder) keyAt(path, name string) bool {
	if e.mut != nil {
		if e.mut.Drop == path {
			return false
		}
		if e.mut.Replace == path {
			e.name(name)
			e.b = append(e.b, e.mut.Raw...)
			return false
		}
	}
	e.name(name)
	return true
}

// open starts a nested object or array value; close ends it.
func (e *encoder) open(c byte) {
	e.b = append(e.b, c)
	e.first = true
}

func (e *encoder) close(c byte) {
	e.b = append(e.b, c)
	e.first = false
}

// elem starts an element of an array.
func (e *encoder) elem() {
	if !e.first {
		e.b = append(e.b, ',')
	}
	e.first = false
}

func (e *encoder) name(k string) {
	if !e.first {
		e.b = append(e.b, ',')
	}
	e.first = false
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *encoder) str(s string) {
	e.b = append(e.b, '"')
	e.b = append(e.b, s...)
	e.b = append(e.b, '"')
}

// Encoder writes records: it numbers each feed's events and tags their ids with the seed, so
// that two seeds never share an event id. It is not safe for concurrent use.
type Encoder struct {
	tag     string
	seq     [NumFeeds]uint64
	scratch []byte
}

// NewEncoder returns an encoder whose event ids carry tag.
func NewEncoder(tag string) *Encoder { return &Encoder{tag: tag, scratch: make([]byte, 0, 512)} }

// Tag is the per-seed part of the event ids; identifiers the agencies give (admissions,
// applications, assets) carry it too.
func (g *Encoder) Tag() string { return g.tag }

// Skip numbers the next n events of feed as if they had been encoded (the registry numbers its
// initial population itself).
func (g *Encoder) Skip(feed uint8, n uint64) { g.seq[feed] += n }

// appendEventID appends the agency's id of the event: feed prefix, seed tag, number.
func (g *Encoder) appendEventID(b []byte, feed uint8, seq uint64) []byte {
	b = append(b, '"')
	b = append(b, eventPrefix[feed]...)
	b = append(b, '-')
	b = append(b, g.tag...)
	b = append(b, '-')
	var d [12]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + seq%10)
		seq /= 10
	}
	b = append(b, d[3:]...)
	return append(b, '"')
}

// AppendAmount appends yuan rounded to the fen, without trailing zeros: 3120, 3120.5, 88.25.
func AppendAmount(b []byte, x float64) []byte {
	c := int64(math.Round(x * 100))
	if c < 0 {
		b = append(b, '-')
		c = -c
	}
	b = strconv.AppendInt(b, c/100, 10)
	if f := c % 100; f != 0 {
		b = append(b, '.', byte('0'+f/10))
		if f%10 != 0 {
			b = append(b, byte('0'+f%10))
		}
	}
	return b
}

// Encode numbers rec (if not yet numbered) and encodes it, applying mut if not nil. It returns
// the feed's name, the key and the value; key and value share one allocation.
func (g *Encoder) Encode(rec *Record, mut *Mutation) (feed string, key, value []byte) {
	if rec.Seq == 0 {
		g.seq[rec.Feed]++
		rec.Seq = g.seq[rec.Feed]
	}
	e := encoder{b: g.scratch[:0], mut: mut, first: true}
	e.b = append(e.b, '{')
	if e.key("event_id") {
		e.b = g.appendEventID(e.b, rec.Feed, rec.Seq)
	}
	if e.key("person_id") {
		e.b = append(e.b, '"')
		e.b = append(e.b, rec.PID[:]...)
		e.b = append(e.b, '"')
	}
	if (rec.Feed == Registry || rec.Feed == Applications) && e.key("household_id") {
		e.str(rec.HH)
	}
	if e.key("occurred_at") {
		e.b = append(e.b, '"')
		e.b = AppendRFC3339(e.b, rec.At)
		e.b = append(e.b, '"')
	}
	if e.key("type") {
		e.str(rec.Type)
	}
	switch rec.Feed {
	case Registry:
		if rec.Type == "member_joined" {
			if e.key("birth_date") {
				e.b = append(e.b, '"')
				e.b = AppendDate(e.b, rec.Birth)
				e.b = append(e.b, '"')
			}
			if e.key("sex") {
				e.b = append(e.b, '"', rec.Sex, '"')
			}
			if e.key("relation") {
				e.str(Relations[rec.Rel])
			}
			if rec.Area != "" && e.key("area_code") {
				e.str(rec.Area)
			}
		}
	case Hospital:
		if e.key("admission_id") {
			e.b = append(e.b, '"', 'Z', 'Y')
			e.b = append(e.b, g.tag...)
			e.b = strconv.AppendUint(e.b, 10_000_000+rec.Admission, 10)
			e.b = append(e.b, '"')
		}
		if e.key("icd10") {
			e.str(rec.ICD)
		}
		if rec.Crit >= 0 && e.key("critical_illness") {
			e.b = strconv.AppendBool(e.b, rec.Crit == 1)
		}
		if rec.Type == "discharged" {
			if e.key("total_cost") {
				e.b = AppendAmount(e.b, rec.Total)
			}
			if e.key("insured_cost") {
				e.b = AppendAmount(e.b, rec.Insured)
			}
			if e.key("out_of_pocket") {
				e.b = AppendAmount(e.b, rec.OOP)
			}
		}
	case Pension:
		if e.key("monthly_amount") {
			e.b = AppendAmount(e.b, rec.Amount)
		}
	case Employment:
		if rec.Type == "employed" {
			if e.key("monthly_wage") {
				e.b = AppendAmount(e.b, rec.Amount)
			}
		} else if e.key("registered") {
			e.b = strconv.AppendBool(e.b, rec.Registered)
		}
	case Disability:
		if e.key("grade") {
			e.b = strconv.AppendInt(e.b, int64(rec.Grade), 10)
		}
		if e.key("kind") {
			e.str(DisabilityKinds[rec.Kind])
		}
	case Applications:
		g.encodeApplication(&e, rec)
	case Assets:
		switch rec.Type {
		case "deposits_reported":
			if e.key("balance") {
				e.b = AppendAmount(e.b, rec.Balance)
			}
		case "provident_fund_paid":
			if e.key("monthly_contribution") {
				e.b = AppendAmount(e.b, rec.Contribution)
			}
		default:
			if e.key("asset_id") {
				e.str(rec.AssetID)
			}
			if rec.Value > 0 && e.key("value") {
				e.b = AppendAmount(e.b, rec.Value)
			}
		}
	}
	e.b = append(e.b, '}')
	g.scratch = e.b[:0]

	key = rec.PID[:]
	if mut != nil && mut.Key != nil {
		key = mut.Key
	}
	buf := make([]byte, len(key)+len(e.b))
	copy(buf, key)
	copy(buf[len(key):], e.b)
	return FeedNames[rec.Feed], buf[:len(key):len(key)], buf[len(key):]
}

// encodeApplication writes the fields of an applications record.
func (g *Encoder) encodeApplication(e *encoder, rec *Record) {
	if e.key("application_id") {
		e.str(rec.AppID)
	}
	if rec.Program != "" && e.key("program") {
		e.str(rec.Program)
	}
	switch rec.Type {
	case "submitted":
		if e.key("commitment_signed") {
			e.b = append(e.b, "true"...)
		}
		d := rec.Declared
		if d == nil || !e.key("declared") {
			return
		}
		e.open('{')
		if e.keyAt("declared.members", "members") {
			e.open('[')
			for i, m := range d.Members {
				e.elem()
				p := "declared.members[" + strconv.Itoa(i) + "]."
				e.open('{')
				if e.keyAt(p+"person_id", "person_id") {
					e.b = append(e.b, '"')
					e.b = append(e.b, m.PID[:]...)
					e.b = append(e.b, '"')
				}
				if e.keyAt(p+"monthly_income", "monthly_income") {
					e.b = AppendAmount(e.b, m.MonthlyIncome)
				}
				e.close('}')
			}
			e.close(']')
		}
		if e.keyAt("declared.vehicles", "vehicles") {
			e.b = strconv.AppendInt(e.b, int64(d.Vehicles), 10)
		}
		if e.keyAt("declared.properties", "properties") {
			e.b = strconv.AppendInt(e.b, int64(d.Properties), 10)
		}
		if e.keyAt("declared.financial_assets", "financial_assets") {
			e.b = AppendAmount(e.b, d.FinancialAssets)
		}
		if e.keyAt("declared.business_owner", "business_owner") {
			e.b = strconv.AppendBool(e.b, d.BusinessOwner)
		}
		e.close('}')
	case "decided":
		if e.key("decision") {
			e.str(rec.Decision)
		}
		if rec.Decision == "approved" && e.key("monthly_benefit") {
			e.b = AppendAmount(e.b, rec.Benefit)
		}
	}
}

// Feed indexes, in the order of feed.Feeds.
const (
	Registry uint8 = iota
	Hospital
	Pension
	Employment
	Disability
	Applications
	Assets
	NumFeeds
)

// FeedNames are the feeds' names (feed.Feeds), by index.
var FeedNames = [NumFeeds]string{
	feed.Registry, feed.Hospital, feed.Pension, feed.Employment, feed.Disability, feed.Applications, feed.Assets,
}

// eventPrefix starts each feed's event ids, as each agency numbers its own records.
var eventPrefix = [NumFeeds]string{"reg", "hosp", "pen", "emp", "dis", "app", "ast"}

// Relations are the registry's relations to the head of household, by Record.Rel.
var Relations = [...]string{"head", "spouse", "child", "parent", "other"}

// DisabilityKinds are the categories of the disabled persons' federation certificate, by
// Record.Kind.
var DisabilityKinds = []string{"physical", "visual", "hearing", "speech", "intellectual", "mental", "multiple"}
