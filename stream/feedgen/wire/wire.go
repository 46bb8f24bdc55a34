package feedgen

import (
	"math"
	"strconv"
)

// record is one event before encoding.
type record struct {
	feed       uint8
	typ        string
	seq        uint64 // event number within the feed; 0 until encoded
	pid        [18]byte
	hh         string // registry events only
	area       string // member_joined: the household's 12-digit area code
	at         int64  // occurred_at, Unix seconds
	birth      int64  // member_joined: days since 1970-01-01
	sex        byte
	rel        uint8
	admission  uint64
	icd        string
	crit       int8 // critical_illness: -1 absent, 0 false, 1 true
	total      float64
	insured    float64
	oop        float64
	amount     float64 // pension monthly_amount or monthly_wage
	registered bool
	grade      int8
	kind       uint8
}

func (r *record) set(feed uint8, typ string) { r.feed, r.typ = feed, typ }

// mutation makes an event invalid: drop a field, or replace a field's raw JSON value.
type mutation struct {
	drop    string
	replace string
	raw     string
	key     []byte // the Key when person_id is replaced
}

// encoder appends a JSON object field by field, applying a mutation.
type encoder struct {
	b     []byte
	mut   *mutation
	first bool
}

// key writes the field name and reports whether the caller should write the value.
func (e *encoder) key(k string) bool {
	if e.mut != nil {
		if e.mut.drop == k {
			return false
		}
		if e.mut.replace == k {
			e.name(k)
			e.b = append(e.b, e.mut.raw...)
			return false
		}
	}
	e.name(k)
	return true
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

// eventID appends the agency's id of the event: feed prefix, seed tag, number.
func (g *Generator) appendEventID(b []byte, feed uint8, seq uint64) []byte {
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

// appendAmount appends yuan rounded to the fen, without trailing zeros: 3120, 3120.5, 88.25.
func appendAmount(b []byte, x float64) []byte {
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

// encode numbers rec (if not yet numbered) and encodes it, applying mut if not nil.
func (g *Generator) encode(rec *record, mut *mutation) Event {
	if rec.seq == 0 {
		g.seq[rec.feed]++
		rec.seq = g.seq[rec.feed]
	}
	e := encoder{b: g.scratch[:0], mut: mut, first: true}
	e.b = append(e.b, '{')
	if e.key("event_id") {
		e.b = g.appendEventID(e.b, rec.feed, rec.seq)
	}
	if e.key("person_id") {
		e.b = append(e.b, '"')
		e.b = append(e.b, rec.pid[:]...)
		e.b = append(e.b, '"')
	}
	if rec.feed == feedRegistry && e.key("household_id") {
		e.str(rec.hh)
	}
	if e.key("occurred_at") {
		e.b = append(e.b, '"')
		e.b = appendRFC3339(e.b, rec.at)
		e.b = append(e.b, '"')
	}
	if e.key("type") {
		e.str(rec.typ)
	}
	switch rec.feed {
	case feedRegistry:
		if rec.typ == "member_joined" {
			if e.key("birth_date") {
				e.b = append(e.b, '"')
				e.b = appendDate(e.b, rec.birth)
				e.b = append(e.b, '"')
			}
			if e.key("sex") {
				e.b = append(e.b, '"', rec.sex, '"')
			}
			if e.key("relation") {
				e.str(relationNames[rec.rel])
			}
			if rec.area != "" && e.key("area_code") {
				e.str(rec.area)
			}
		}
	case feedHospital:
		if e.key("admission_id") {
			e.b = append(e.b, '"', 'Z', 'Y')
			e.b = append(e.b, g.tag...)
			e.b = strconv.AppendUint(e.b, 10_000_000+rec.admission, 10)
			e.b = append(e.b, '"')
		}
		if e.key("icd10") {
			e.str(rec.icd)
		}
		if rec.crit >= 0 && e.key("critical_illness") {
			e.b = strconv.AppendBool(e.b, rec.crit == 1)
		}
		if rec.typ == "discharged" {
			if e.key("total_cost") {
				e.b = appendAmount(e.b, rec.total)
			}
			if e.key("insured_cost") {
				e.b = appendAmount(e.b, rec.insured)
			}
			if e.key("out_of_pocket") {
				e.b = appendAmount(e.b, rec.oop)
			}
		}
	case feedPension:
		if e.key("monthly_amount") {
			e.b = appendAmount(e.b, rec.amount)
		}
	case feedEmployment:
		if rec.typ == "employed" {
			if e.key("monthly_wage") {
				e.b = appendAmount(e.b, rec.amount)
			}
		} else if e.key("registered") {
			e.b = strconv.AppendBool(e.b, rec.registered)
		}
	case feedDisability:
		if e.key("grade") {
			e.b = strconv.AppendInt(e.b, int64(rec.grade), 10)
		}
		if e.key("kind") {
			e.str(disabilityKinds[rec.kind])
		}
	}
	e.b = append(e.b, '}')
	g.scratch = e.b[:0]

	key := rec.pid[:]
	if mut != nil && mut.key != nil {
		key = mut.key
	}
	buf := make([]byte, len(key)+len(e.b))
	copy(buf, key)
	copy(buf[len(key):], e.b)
	return Event{
		Feed:  feedNames[rec.feed],
		Key:   buf[:len(key):len(key)],
		Value: buf[len(key):],
	}
}
