package feedgen

import "safetynet/stream/feedgen/wire"

// Faults mixed into the feed: malformed events and events about people the registry never
// names (resends are in Next).

// malformed returns an invalid event, made from a recent valid one the ways agencies' systems
// get events wrong. It has an event id of its own and does not change the population.
func (g *Generator) malformed() Event {
	r := g.rng
	rec := g.ring[r.IntN(g.ringLen)].rec
	rec.Seq = 0
	var m wire.Mutation
	reason := wire.Mutate(r, &rec, &m)
	var ev Event
	if reason == ReasonMalformedJSON {
		ev = g.encode(&rec, nil)
		ev.Value = wire.Corrupt(r, &rec, ev.Value)
	} else {
		ev = g.encode(&rec, &m)
	}
	ev.Malformed, ev.Reason = true, reason
	return ev
}

// unknownPerson returns a valid event about someone the registry never names: a person from
// another district, or an agency's typo that happens to pass the check digit.
func (g *Generator) unknownPerson() Event {
	r := g.rng
	var id [18]byte
	if len(g.unknown) > 0 && (len(g.unknown) >= 4096 || r.IntN(2) == 0) {
		id = g.unknown[r.IntN(len(g.unknown))]
	} else {
		birth := int32(wire.DaysFromCivil(1945+r.IntN(60), 1+r.IntN(12), 1+r.IntN(28)))
		g.uniqueID(&id, areaCodes[r.IntN(len(areaCodes))].code, birth, sexOf(r.IntN(2) == 0))
		g.unknown = append(g.unknown, id)
	}
	rec := wire.Record{PID: id, At: g.now, Crit: -1}
	switch r.IntN(4) {
	case 0:
		g.admission++
		rec.Set(feedHospital, "admitted")
		rec.Admission, rec.ICD = g.admission, commonConditions[r.IntN(len(commonConditions))].icd
	case 1:
		rec.Set(feedPension, "started")
		rec.Amount = roundTo(800+2500*r.Float64(), 1)
	case 2:
		rec.Set(feedEmployment, "employed")
		rec.Amount = roundTo(2500+4000*r.Float64(), 10)
	default:
		rec.Set(feedDisability, "registered")
		rec.Grade, rec.Kind = int8(1+r.IntN(4)), uint8(r.IntN(len(wire.DisabilityKinds)))
	}
	ev := g.encode(&rec, nil)
	ev.UnknownPerson, ev.Reason = true, ReasonUnknownPerson
	return ev
}
