package feed

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// The household event crosses the household-events topic as JSON (the topic's contract; tests
// and tools read it with encoding/json). encoding/json's reflection was a fifth of the
// pipeline's CPU, so intake writes it and the monitor reads it by hand here. The encoder writes
// exactly the bytes json.Marshal writes; the decoder reads that form (any key order, whitespace,
// nulls for the optional fields) and hands everything else (unknown or differently cased keys,
// escapes, non-ASCII text, numbers encoding/json reads differently) to encoding/json, so both
// give what encoding/json gives. Tests and a fuzz target hold them to it.

// appendHouseholdEvent appends ev as json.Marshal would write it.
func AppendHouseholdEvent(b []byte, ev *HouseholdEvent) ([]byte, error) {
	start := len(b)
	e := eventEncoder{b: b}
	e.b = append(e.b, `{"v":`...)
	e.b = strconv.AppendInt(e.b, int64(ev.V), 10)
	e.str(`,"event_id":`, ev.EventID)
	e.str(`,"feed":`, ev.Feed)
	e.str(`,"type":`, ev.Type)
	e.str(`,"household_id":`, ev.HouseholdID)
	e.str(`,"person_key":`, ev.PersonKey)
	e.str(`,"person_masked":`, ev.PersonMasked)
	e.time(`,"occurred_at":`, ev.OccurredAt)
	e.str(`,"source":{"topic":`, ev.Source.Topic)
	e.b = append(e.b, `,"partition":`...)
	e.b = strconv.AppendInt(e.b, int64(ev.Source.Partition), 10)
	e.b = append(e.b, `,"offset":`...)
	e.b = strconv.AppendInt(e.b, ev.Source.Offset, 10)
	e.b = append(e.b, '}')
	if !ev.ProducedAt.IsZero() {
		e.time(`,"produced_at":`, ev.ProducedAt)
	}
	e.time(`,"ingested_at":`, ev.IngestedAt)
	if ev.BirthDate != nil {
		e.time(`,"birth_date":`, *ev.BirthDate)
	}
	e.optStr(`,"sex":`, ev.Sex)
	e.optStr(`,"relation":`, ev.Relation)
	e.optStr(`,"area_code":`, ev.AreaCode)
	e.optStr(`,"admission_id":`, ev.AdmissionID)
	e.optStr(`,"icd10":`, ev.ICD10)
	e.boolean(`,"critical_illness":`, ev.CriticalIllness)
	e.float(`,"total_cost":`, ev.TotalCost)
	e.float(`,"insured_cost":`, ev.InsuredCost)
	e.float(`,"out_of_pocket":`, ev.OutOfPocket)
	e.float(`,"monthly_amount":`, ev.MonthlyAmount)
	e.float(`,"monthly_wage":`, ev.MonthlyWage)
	e.boolean(`,"registered":`, ev.Registered)
	if ev.Grade != nil {
		e.b = append(e.b, `,"grade":`...)
		e.b = strconv.AppendInt(e.b, int64(*ev.Grade), 10)
	}
	e.optStr(`,"kind":`, ev.Kind)
	e.optStr(`,"asset_id":`, ev.AssetID)
	e.float(`,"value":`, ev.Value)
	e.float(`,"balance":`, ev.Balance)
	e.float(`,"monthly_contribution":`, ev.MonthlyContribution)
	if ev.Application != nil {
		a, err := json.Marshal(ev.Application)
		if err != nil {
			return b, err
		}
		e.b = append(append(e.b, `,"application":`...), a...)
	}
	if ev.Case != nil {
		c, err := json.Marshal(ev.Case)
		if err != nil {
			return b, err
		}
		e.b = append(append(e.b, `,"case":`...), c...)
	}
	e.b = append(e.b, '}')
	if e.slow {
		// A value only encoding/json writes right (or refuses: a time past year 9999, NaN).
		v, err := json.Marshal(ev)
		if err != nil {
			return b[:start], err
		}
		return append(b[:start], v...), nil
	}
	return e.b, nil
}

type eventEncoder struct {
	b    []byte
	slow bool // something the fast path does not write; the caller uses encoding/json
}

func (e *eventEncoder) str(key, s string) {
	e.b = append(e.b, key...)
	e.b = append(e.b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			e.slow = true
			return
		}
	}
	e.b = append(e.b, s...)
	e.b = append(e.b, '"')
}

func (e *eventEncoder) optStr(key, s string) {
	if s != "" {
		e.str(key, s)
	}
}

func (e *eventEncoder) time(key string, t time.Time) {
	e.b = append(e.b, key...)
	e.b = append(e.b, '"')
	var err error
	if e.b, err = t.AppendText(e.b); err != nil {
		e.slow = true
		return
	}
	e.b = append(e.b, '"')
}

func (e *eventEncoder) boolean(key string, v *bool) {
	if v != nil {
		e.b = append(e.b, key...)
		e.b = strconv.AppendBool(e.b, *v)
	}
}

// float writes a number the way encoding/json's float encoder does.
func (e *eventEncoder) float(key string, v *float64) {
	if v == nil {
		return
	}
	f := *v
	if math.IsInf(f, 0) || math.IsNaN(f) {
		e.slow = true
		return
	}
	e.b = append(e.b, key...)
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' { // clean up e-09 to e-9
		n := len(e.b)
		if n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

// decodeHouseholdEvent reads a household event as json.Unmarshal into a zero HouseholdEvent
// would.
func DecodeHouseholdEvent(data []byte, ev *HouseholdEvent) error {
	*ev = HouseholdEvent{}
	if fastDecodeEvent(data, ev) {
		return nil
	}
	*ev = HouseholdEvent{}
	return json.Unmarshal(data, ev)
}

// eventScanner reads the JSON the fast decoder accepts; any method returning false means
// "leave it to encoding/json".
type eventScanner struct {
	b []byte
	i int
}

func (s *eventScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *eventScanner) byte(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// rawStr returns the bytes of a string with no escapes, controls or non-ASCII bytes, quotes
// included.
func (s *eventScanner) rawStr() ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[s.i : j+1]
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

func (s *eventScanner) str() (string, bool) {
	v, ok := s.rawStr()
	if !ok {
		return "", false
	}
	return string(v[1 : len(v)-1]), true
}

func (s *eventScanner) time() (time.Time, bool) {
	var t time.Time
	v, ok := s.rawStr()
	if !ok || t.UnmarshalJSON(v) != nil {
		return t, false
	}
	return t, true
}

// null consumes a null literal if one is next.
func (s *eventScanner) null() bool {
	s.ws()
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// number returns a JSON number literal (RFC 8259 grammar).
func (s *eventScanner) number() (string, bool) {
	s.ws()
	b, j := s.b, s.i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return "", false
	}
	if j < len(b) && b[j] == '.' {
		j++
		d := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == d {
			return "", false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		d := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == d {
			return "", false
		}
	}
	v := string(b[s.i:j])
	s.i = j
	return v, true
}

func (s *eventScanner) integer() (int64, bool) {
	lit, ok := s.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	return n, err == nil
}

func (s *eventScanner) optFloat() (*float64, bool) {
	if s.null() {
		return nil, true
	}
	lit, ok := s.number()
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, false
	}
	return &f, true
}

func (s *eventScanner) optBool() (*bool, bool) {
	s.ws()
	var v bool
	switch {
	case s.null():
		return nil, true
	case len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "true":
		s.i += 4
		v = true
	case len(s.b)-s.i >= 5 && string(s.b[s.i:s.i+5]) == "false":
		s.i += 5
	default:
		return nil, false
	}
	return &v, true
}

// object reads the members of an object, calling member for each key with the scanner at its
// value.
func (s *eventScanner) object(member func(key []byte) bool) bool {
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return true
	}
	for {
		k, ok := s.rawStr()
		if !ok || !s.byte(':') || !member(k[1:len(k)-1]) {
			return false
		}
		if s.byte(',') {
			continue
		}
		return s.byte('}')
	}
}

func fastDecodeEvent(data []byte, ev *HouseholdEvent) bool {
	s := &eventScanner{b: data}
	ok := s.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "v":
			var n int64
			n, ok = s.integer()
			ev.V = int(n)
		case "event_id":
			ev.EventID, ok = s.str()
		case "feed":
			ev.Feed, ok = s.str()
		case "type":
			ev.Type, ok = s.str()
		case "household_id":
			ev.HouseholdID, ok = s.str()
		case "person_key":
			ev.PersonKey, ok = s.str()
		case "person_masked":
			ev.PersonMasked, ok = s.str()
		case "occurred_at":
			ev.OccurredAt, ok = s.time()
		case "source":
			ok = s.object(func(key []byte) bool {
				var ok bool
				switch string(key) {
				case "topic":
					ev.Source.Topic, ok = s.str()
				case "partition":
					var n int64
					n, ok = s.integer()
					ev.Source.Partition = int(n)
				case "offset":
					ev.Source.Offset, ok = s.integer()
				}
				return ok
			})
		case "produced_at":
			ev.ProducedAt, ok = s.time()
		case "ingested_at":
			ev.IngestedAt, ok = s.time()
		case "birth_date":
			if s.null() {
				ev.BirthDate, ok = nil, true
				break
			}
			var t time.Time
			if t, ok = s.time(); ok {
				ev.BirthDate = &t
			}
		case "sex":
			ev.Sex, ok = s.str()
		case "relation":
			ev.Relation, ok = s.str()
		case "area_code":
			ev.AreaCode, ok = s.str()
		case "admission_id":
			ev.AdmissionID, ok = s.str()
		case "icd10":
			ev.ICD10, ok = s.str()
		case "critical_illness":
			ev.CriticalIllness, ok = s.optBool()
		case "total_cost":
			ev.TotalCost, ok = s.optFloat()
		case "insured_cost":
			ev.InsuredCost, ok = s.optFloat()
		case "out_of_pocket":
			ev.OutOfPocket, ok = s.optFloat()
		case "monthly_amount":
			ev.MonthlyAmount, ok = s.optFloat()
		case "monthly_wage":
			ev.MonthlyWage, ok = s.optFloat()
		case "registered":
			ev.Registered, ok = s.optBool()
		case "grade":
			if s.null() {
				ev.Grade, ok = nil, true
				break
			}
			var n int64
			if n, ok = s.integer(); ok {
				g := int(n)
				ev.Grade = &g
			}
		case "kind":
			ev.Kind, ok = s.str()
		case "asset_id":
			ev.AssetID, ok = s.str()
		case "value":
			ev.Value, ok = s.optFloat()
		case "balance":
			ev.Balance, ok = s.optFloat()
		case "monthly_contribution":
			ev.MonthlyContribution, ok = s.optFloat()
		}
		return ok
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}
