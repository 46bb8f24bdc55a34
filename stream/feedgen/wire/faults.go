package wire

import (
	"math/rand/v2"
	"strconv"
)

// Reason codes of events that intake must dead-letter.
const (
	ReasonMalformedJSON = "malformed_json"
	ReasonMissingField  = "missing_field"
	ReasonBadType       = "bad_type"
	ReasonBadValue      = "bad_value"
	ReasonBadPersonID   = "bad_person_id"
	ReasonBadTime       = "bad_time"
	ReasonUnknownType   = "unknown_type"
)

// Corrupt breaks the JSON of an encoded record (value) the ways it gets broken: cut off in
// transit, a trailing comma, or not JSON at all.
func Corrupt(r *rand.Rand, rec *Record, v []byte) []byte {
	switch r.IntN(3) {
	case 0: // cut off in transit
		return v[:1+r.IntN(len(v)-2)]
	case 1: // a trailing comma, as a hand-rolled serializer writes it
		return append(append(v[:len(v)-1:len(v)-1], ','), '}')
	default: // not JSON at all: a CSV line
		return []byte(string(rec.PID[:]) + "," + rec.Type + "," + strconv.FormatInt(rec.At, 10))
	}
}

// Mutate picks what is wrong with rec, fills m, and returns the reason code (for
// ReasonMalformedJSON, m stays empty: encode rec and Corrupt it).
func Mutate(r *rand.Rand, rec *Record, m *Mutation) string {
	for {
		switch r.IntN(7) {
		case 0:
			return ReasonMalformedJSON
		case 1: // a required field left out
			switch {
			case r.IntN(2) == 0:
				m.Drop = [...]string{"event_id", "person_id", "occurred_at", "type"}[r.IntN(4)]
			case rec.Feed == Registry:
				m.Drop = "household_id"
			case rec.Feed == Hospital:
				m.Drop = "admission_id"
			case rec.Feed == Pension && (rec.Type == "started" || rec.Type == "changed"):
				m.Drop = "monthly_amount"
			case rec.Feed == Employment && rec.Type == "employed":
				m.Drop = "monthly_wage"
			case rec.Feed == Disability && rec.Type != "revoked":
				m.Drop = "grade"
			case rec.Feed == Applications:
				m.Drop = [...]string{"household_id", "application_id"}[r.IntN(2)]
				if rec.Type == "submitted" && r.IntN(2) == 0 {
					m.Drop = [...]string{"declared", "commitment_signed", "declared.financial_assets", "declared.members[0].monthly_income"}[r.IntN(4)]
				}
			case rec.Feed == Assets && rec.Type == "deposits_reported":
				m.Drop = "balance"
			case rec.Feed == Assets && rec.Type == "provident_fund_paid":
				m.Drop = "monthly_contribution"
			case rec.Feed == Assets:
				m.Drop = "asset_id"
			default:
				continue
			}
			return ReasonMissingField
		case 2: // a value of the wrong JSON type
			switch {
			case r.IntN(3) == 0:
				m.Replace, m.Raw = "event_id", strconv.FormatUint(rec.Seq+900_000_000, 10)
			case rec.Feed == Pension:
				m.Replace, m.Raw = "monthly_amount", `"`+strconv.FormatFloat(rec.Amount, 'f', 2, 64)+`"`
			case rec.Feed == Employment && rec.Type == "employed":
				m.Replace, m.Raw = "monthly_wage", `"`+strconv.FormatFloat(rec.Amount, 'f', -1, 64)+` yuan"`
			case rec.Feed == Employment:
				m.Replace, m.Raw = "registered", `"yes"`
			case rec.Feed == Disability:
				m.Replace, m.Raw = "grade", `"`+strconv.Itoa(int(rec.Grade))+`"`
			case rec.Feed == Hospital && rec.Type == "discharged":
				m.Replace, m.Raw = "total_cost", `"`+strconv.FormatFloat(rec.Total, 'f', 2, 64)+`"`
			case rec.Feed == Registry:
				m.Replace, m.Raw = "household_id", rec.HH[1:]
			case rec.Feed == Applications && rec.Type == "submitted":
				if r.IntN(2) == 0 {
					m.Replace, m.Raw = "declared.vehicles", `"`+strconv.Itoa(rec.Declared.Vehicles)+`"`
				} else {
					m.Replace, m.Raw = "commitment_signed", `"是"`
				}
			case rec.Feed == Assets && rec.Type == "deposits_reported":
				m.Replace, m.Raw = "balance", `"`+strconv.FormatFloat(rec.Balance, 'f', 2, 64)+`"`
			case rec.Feed == Assets && rec.Type == "provident_fund_paid":
				m.Replace, m.Raw = "monthly_contribution", `"`+strconv.FormatFloat(rec.Contribution, 'f', 2, 64)+`"`
			default:
				continue
			}
			return ReasonBadType
		case 3: // a value out of its domain
			switch {
			case rec.Feed == Disability && rec.Type != "revoked":
				m.Replace, m.Raw = "grade", [...]string{"0", "5", "7"}[r.IntN(3)]
			case rec.Feed == Registry && rec.Type == "member_joined":
				if r.IntN(2) == 0 {
					m.Replace, m.Raw = "sex", `"U"`
				} else {
					m.Replace, m.Raw = "relation", `"lodger"`
				}
			case rec.Feed == Pension:
				m.Replace, m.Raw = "monthly_amount", "-"+strconv.FormatFloat(rec.Amount, 'f', -1, 64)
			case rec.Feed == Employment && rec.Type == "employed":
				m.Replace, m.Raw = "monthly_wage", "-"+strconv.FormatFloat(rec.Amount, 'f', -1, 64)
			case rec.Feed == Applications && rec.Type == "submitted":
				switch r.IntN(3) {
				case 0:
					m.Replace, m.Raw = "program", `"housing"`
				case 1:
					m.Replace, m.Raw = "declared.properties", "-1"
				default:
					m.Replace, m.Raw = "declared.members", "[]"
				}
			case rec.Feed == Applications && rec.Type == "decided":
				m.Replace, m.Raw = "decision", `"pending"`
			case rec.Feed == Assets && rec.Type == "deposits_reported":
				m.Replace, m.Raw = "balance", "-"+strconv.FormatFloat(rec.Balance+1, 'f', -1, 64)
			default:
				continue
			}
			return ReasonBadValue
		case 4: // a resident ID that cannot be
			if rec.Feed == Applications && rec.Type == "submitted" && r.IntN(2) == 0 {
				// a declared member's number mistyped: the record's key stays valid
				k := r.IntN(len(rec.Declared.Members))
				id := rec.Declared.Members[k].PID
				id[17] = IDCheckChars[(indexCheck(id[17])+1+r.IntN(10))%11]
				m.Replace = "declared.members[" + strconv.Itoa(k) + "].person_id"
				m.Raw = `"` + string(id[:]) + `"`
				return ReasonBadPersonID
			}
			id := rec.PID
			switch r.IntN(3) {
			case 0: // one digit mistyped: the check digit no longer matches
				k := 6 + r.IntN(8)
				id[k] = '0' + (id[k]-'0'+1+byte(r.IntN(8)))%10
				if CheckChar(id[:]) == id[17] {
					id[17] = IDCheckChars[(indexCheck(id[17])+1)%11]
				}
				m.Key = id[:]
			case 1: // the last character lost
				m.Key = id[:17]
			default: // the old 15-digit ID number
				m.Key = append(append([]byte{}, id[:6]...), id[8:17]...)
			}
			m.Replace, m.Raw = "person_id", `"`+string(m.Key)+`"`
			return ReasonBadPersonID
		case 5: // an occurred_at that is no time
			b := AppendRFC3339(nil, rec.At)
			switch r.IntN(3) {
			case 0:
				copy(b[5:7], "13") // month 13
			case 1:
				copy(b[5:10], "02-30") // 30 February
			default: // local notation
				y, mo, d := string(b[0:4]), string(b[5:7]), string(b[8:10])
				b = []byte(y + "/" + mo + "/" + d + " " + string(b[11:19]))
			}
			m.Replace, m.Raw = "occurred_at", `"`+string(b)+`"`
			return ReasonBadTime
		case 6: // a type the feed does not have
			bad := [NumFeeds][]string{
				{"moved", "member_updated", "admitted"},
				{"transferred", "readmitted", "employed"},
				{"resumed", "increased", "admitted"},
				{"retired", "self_employed", "changed"},
				{"renewed", "upgraded", "died"},
				{"approved", "cancelled", "resubmitted"},
				{"vehicle_sold", "balance_reported", "property_bought"},
			}[rec.Feed]
			m.Replace, m.Raw = "type", `"`+bad[r.IntN(len(bad))]+`"`
			return ReasonUnknownType
		}
	}
}

func indexCheck(c byte) int {
	for i := 0; i < len(IDCheckChars); i++ {
		if IDCheckChars[i] == c {
			return i
		}
	}
	return 0
}
