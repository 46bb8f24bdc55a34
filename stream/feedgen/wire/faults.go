package feedgen

import "strconv"

// malformed returns an invalid event, made from a recent valid one the ways agencies' systems
// get events wrong. It has an event id of its own and does not change the population.
func (g *Generator) malformed() Event {
	r := g.rng
	rec := g.ring[r.IntN(g.ringLen)].rec
	rec.seq = 0
	var m mutation
	reason := g.mutate(&rec, &m)
	var ev Event
	if reason == ReasonMalformedJSON {
		ev = g.encode(&rec, nil)
		v := ev.Value
		switch r.IntN(3) {
		case 0: // cut off in transit
			ev.Value = v[:1+r.IntN(len(v)-2)]
		case 1: // a trailing comma, as a hand-rolled serializer writes it
			ev.Value = append(append(v[:len(v)-1:len(v)-1], ','), '}')
		default: // not JSON at all: a CSV line
			ev.Value = []byte(string(rec.pid[:]) + "," + rec.typ + "," + strconv.FormatInt(rec.at, 10))
		}
	} else {
		ev = g.encode(&rec, &m)
	}
	ev.Malformed, ev.Reason = true, reason
	return ev
}

// mutate picks what is wrong with rec, fills m, and returns the reason code.
func (g *Generator) mutate(rec *record, m *mutation) string {
	r := g.rng
	for {
		switch r.IntN(7) {
		case 0:
			return ReasonMalformedJSON
		case 1: // a required field left out
			switch {
			case r.IntN(2) == 0:
				m.drop = [...]string{"event_id", "person_id", "occurred_at", "type"}[r.IntN(4)]
			case rec.feed == feedRegistry:
				m.drop = "household_id"
			case rec.feed == feedHospital:
				m.drop = "admission_id"
			case rec.feed == feedPension && (rec.typ == "started" || rec.typ == "changed"):
				m.drop = "monthly_amount"
			case rec.feed == feedEmployment && rec.typ == "employed":
				m.drop = "monthly_wage"
			case rec.feed == feedDisability && rec.typ != "revoked":
				m.drop = "grade"
			default:
				continue
			}
			return ReasonMissingField
		case 2: // a value of the wrong JSON type
			switch {
			case r.IntN(3) == 0:
				m.replace, m.raw = "event_id", strconv.FormatUint(rec.seq+900_000_000, 10)
			case rec.feed == feedPension:
				m.replace, m.raw = "monthly_amount", `"`+strconv.FormatFloat(rec.amount, 'f', 2, 64)+`"`
			case rec.feed == feedEmployment && rec.typ == "employed":
				m.replace, m.raw = "monthly_wage", `"`+strconv.FormatFloat(rec.amount, 'f', -1, 64)+` yuan"`
			case rec.feed == feedEmployment:
				m.replace, m.raw = "registered", `"yes"`
			case rec.feed == feedDisability:
				m.replace, m.raw = "grade", `"`+strconv.Itoa(int(rec.grade))+`"`
			case rec.feed == feedHospital && rec.typ == "discharged":
				m.replace, m.raw = "total_cost", `"`+strconv.FormatFloat(rec.total, 'f', 2, 64)+`"`
			case rec.feed == feedRegistry:
				m.replace, m.raw = "household_id", rec.hh[1:]
			default:
				continue
			}
			return ReasonBadType
		case 3: // a value out of its domain
			switch {
			case rec.feed == feedDisability && rec.typ != "revoked":
				m.replace, m.raw = "grade", [...]string{"0", "5", "7"}[r.IntN(3)]
			case rec.feed == feedRegistry && rec.typ == "member_joined":
				if r.IntN(2) == 0 {
					m.replace, m.raw = "sex", `"U"`
				} else {
					m.replace, m.raw = "relation", `"lodger"`
				}
			case rec.feed == feedPension:
				m.replace, m.raw = "monthly_amount", "-"+strconv.FormatFloat(rec.amount, 'f', -1, 64)
			case rec.feed == feedEmployment && rec.typ == "employed":
				m.replace, m.raw = "monthly_wage", "-"+strconv.FormatFloat(rec.amount, 'f', -1, 64)
			default:
				continue
			}
			return ReasonBadValue
		case 4: // a resident ID that cannot be
			id := rec.pid
			switch r.IntN(3) {
			case 0: // one digit mistyped: the check digit no longer matches
				k := 6 + r.IntN(8)
				id[k] = '0' + (id[k]-'0'+1+byte(r.IntN(8)))%10
				if checkChar(id[:]) == id[17] {
					id[17] = idCheckChars[(indexCheck(id[17])+1)%11]
				}
				m.key = id[:]
			case 1: // the last character lost
				m.key = id[:17]
			default: // the old 15-digit ID number
				m.key = append(append([]byte{}, id[:6]...), id[8:17]...)
			}
			m.replace, m.raw = "person_id", `"`+string(m.key)+`"`
			return ReasonBadPersonID
		case 5: // an occurred_at that is no time
			b := appendRFC3339(nil, rec.at)
			switch r.IntN(3) {
			case 0:
				copy(b[5:7], "13") // month 13
			case 1:
				copy(b[5:10], "02-30") // 30 February
			default: // local notation
				y, mo, d := string(b[0:4]), string(b[5:7]), string(b[8:10])
				b = []byte(y + "/" + mo + "/" + d + " " + string(b[11:19]))
			}
			m.replace, m.raw = "occurred_at", `"`+string(b)+`"`
			return ReasonBadTime
		case 6: // a type the feed does not have
			bad := [numFeeds][]string{
				{"moved", "member_updated", "admitted"},
				{"transferred", "readmitted", "employed"},
				{"resumed", "increased", "admitted"},
				{"retired", "self_employed", "changed"},
				{"renewed", "upgraded", "died"},
			}[rec.feed]
			m.replace, m.raw = "type", `"`+bad[r.IntN(len(bad))]+`"`
			return ReasonUnknownType
		}
	}
}

func indexCheck(c byte) int {
	for i := 0; i < len(idCheckChars); i++ {
		if idCheckChars[i] == c {
			return i
		}
	}
	return 0
}

// unknownPerson returns a valid event about someone the registry never names: a person from
// another district, or an agency's typo that happens to pass the check digit.
func (g *Generator) unknownPerson() Event {
	r := g.rng
	var id [18]byte
	if len(g.unknown) > 0 && (len(g.unknown) >= 4096 || r.IntN(2) == 0) {
		id = g.unknown[r.IntN(len(g.unknown))]
	} else {
		birth := int32(daysFromCivil(1945+r.IntN(60), 1+r.IntN(12), 1+r.IntN(28)))
		g.uniqueID(&id, areaCodes[r.IntN(len(areaCodes))].code, birth, sexOf(r.IntN(2) == 0))
		g.unknown = append(g.unknown, id)
	}
	rec := record{pid: id, at: g.now, crit: -1}
	switch r.IntN(4) {
	case 0:
		g.admission++
		rec.set(feedHospital, "admitted")
		rec.admission, rec.icd = g.admission, commonConditions[r.IntN(len(commonConditions))].icd
	case 1:
		rec.set(feedPension, "started")
		rec.amount = roundTo(800+2500*r.Float64(), 1)
	case 2:
		rec.set(feedEmployment, "employed")
		rec.amount = roundTo(2500+4000*r.Float64(), 10)
	default:
		rec.set(feedDisability, "registered")
		rec.grade, rec.kind = int8(1+r.IntN(4)), uint8(r.IntN(len(disabilityKinds)))
	}
	ev := g.encode(&rec, nil)
	ev.UnknownPerson, ev.Reason = true, ReasonUnknownPerson
	return ev
}
