package feedgen

import (
	"math"

	"safetynet/stream/feedgen/wire"
)

// The simulation is discrete-event: a heap of (time, person, kind). Each living person has one
// "hazard" entry, the next moment something happens to them, drawn from the sum of their yearly
// rates (dying, being admitted, a change at work or of pension or disability, leaving the
// household, a birth); what happens is drawn when it fires. Stays end, retirements and pension
// stops are entries of their own. Every entry yields at most one event.

// Heap entry kinds.
const (
	kindHazard uint8 = iota
	kindBaselineWork
	kindBaselinePension
	kindBaselineDisability
	kindRetire
	kindRetirePension
	kindDischarge
	kindPensionStop
	kindPensionResume
	kindDeposits  // the banks report a person's deposits (assets.go)
	kindProvident // a provident fund payment (assets.go)
	kindEstate    // a dead person's registrations end, one per entry (assets.go)
	// Entries below are not about a person: p is an asset or a household index.
	kindBaselineAsset // p: asset
	kindMonth         // p: household; its monthly look at assets and need of aid
	kindApply         // p: household (applications.go)
	kindDecide        // p: household
)

type entry struct {
	t    int64
	p    int32
	kind uint8
}

// eventHeap is a 4-ary min-heap on time: shallower than a binary heap, and a node's children
// share a cache line or two, which matters with a few hundred thousand entries.
type eventHeap []entry

func (h *eventHeap) push(e entry) {
	*h = append(*h, e)
	q := *h
	i := len(q) - 1
	for i > 0 {
		parent := (i - 1) / 4
		if q[parent].t <= e.t {
			break
		}
		q[i] = q[parent]
		i = parent
	}
	q[i] = e
}

func (h *eventHeap) pop() entry {
	q := *h
	top := q[0]
	last := q[len(q)-1]
	q = q[:len(q)-1]
	*h = q
	n := len(q)
	if n == 0 {
		return top
	}
	i := 0
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for k := c + 1; k < c+4 && k < n; k++ {
			if q[k].t < q[m].t {
				m = k
			}
		}
		if last.t <= q[m].t {
			break
		}
		q[i] = q[m]
		i = m
	}
	q[i] = last
	return top
}

func (g *Generator) push(t int64, p int32, kind uint8) {
	g.queue.push(entry{t: t, p: p, kind: kind})
}

const secondsPerYear = 365.25 * secondsPerDay

// Hazard causes, indexes into a rates array.
const (
	hzDeath = iota
	hzHospital
	hzWork
	hzPension
	hzDisability
	hzLeave
	hzBirth
	numHazards
)

// rates returns person i's yearly rates of each cause at time t, and their sum.
func (g *Generator) rates(i int32, t int64, r *[numHazards]float64) float64 {
	p := &g.persons[i]
	age := p.ageYears(t)
	tier := g.households[p.hh].tier
	*r = [numHazards]float64{}
	r[hzDeath] = math.Min(0.3, 0.0003*math.Exp(0.09*(age-30)))
	if !p.inHosp {
		switch {
		case age < 5:
			r[hzHospital] = 0.12
		case age < 16:
			r[hzHospital] = 0.05
		case age < 45:
			r[hzHospital] = 0.06
		case age < 60:
			r[hzHospital] = 0.10
		case age < 75:
			r[hzHospital] = 0.20
		default:
			r[hzHospital] = 0.32
		}
		if p.grade > 0 && p.grade <= 2 {
			r[hzHospital] *= 1.5
		}
	}
	if p.chronic > 0 {
		c := &criticalConditions[p.chronic-1]
		r[hzDeath] += c.death
		if !p.inHosp {
			r[hzHospital] += c.rate
		}
	}
	switch p.work {
	case workFormal:
		r[hzWork] = 0.35 + 0.04*float64(1+2*tier) // pay rises; job losses
	case workSeeking:
		r[hzWork] = 1.2 / float64(1+tier)
	case workCasual:
		if p.employed {
			r[hzWork] = 1.2 // spells of about ten months' work
		} else {
			r[hzWork] = 8 // and six weeks without
		}
	}
	if p.pensionOn && !p.pensionSusp {
		r[hzPension] = 1.003
	}
	if p.grade > 0 {
		r[hzDisability] = 0.09
	} else if p.grade == 0 {
		r[hzDisability] = 0.001 + 0.00008*age
	}
	if (p.rel == relChild && age >= 18 && age < 35) || p.rel == relOther {
		r[hzLeave] = 0.08
	}
	if p.sex == 'F' && (p.rel == relHead || p.rel == relSpouse) && age >= 22 && age < 40 {
		r[hzBirth] = 0.06
	}
	sum := 0.0
	for _, x := range r {
		sum += x
	}
	return sum
}

// schedule queues person i's next hazard after time t.
func (g *Generator) schedule(i int32, t int64) {
	var r [numHazards]float64
	if sum := g.rates(i, t, &r); sum > 0 {
		g.push(t+int64(g.rng.ExpFloat64()/sum*secondsPerYear)+1, i, kindHazard)
	}
}

func (g *Generator) days(lo, hi int) int64 {
	return int64(lo*secondsPerDay + g.rng.IntN((hi-lo)*secondsPerDay+1))
}

// simulate advances the simulation to the next event and describes it in rec.
func (g *Generator) simulate(rec *wire.Record) {
	for {
		e := g.queue.pop()
		g.now = e.t
		if g.fire(e, rec) {
			return
		}
	}
}

// fire applies one heap entry and reports whether it produced an event.
func (g *Generator) fire(e entry, rec *wire.Record) bool {
	if e.kind >= kindBaselineAsset {
		return g.fireOther(e, rec)
	}
	i := e.p
	p := &g.persons[i]
	*rec = wire.Record{PID: p.id, At: e.t, Crit: -1}
	r := g.rng
	switch e.kind {
	case kindEstate:
		return g.estate(i, rec)
	case kindDischarge: // even after death or a move: the hospital still bills the stay
		p.inHosp = false
		g.discharge(p, rec)
		return true
	case kindPensionStop:
		p.pensionOn = false
		rec.Set(feedPension, "stopped")
		rec.Amount = p.pension
		return true
	}
	if !p.alive || !p.present {
		return false
	}
	switch e.kind {
	case kindBaselineWork:
		if p.work == workNone {
			return false
		}
		g.workEvent(p, rec)
		return true
	case kindBaselinePension:
		if !p.pensionOn {
			return false
		}
		rec.Set(feedPension, "started")
		rec.Amount = p.pension
		return true
	case kindBaselineDisability:
		if p.grade <= 0 {
			return false
		}
		rec.Set(feedDisability, "registered")
		rec.Grade, rec.Kind = p.grade, p.dkind
		return true
	case kindRetire:
		if p.work == workNone {
			return false
		}
		wasEmployed := p.employed
		rural := g.households[p.hh].rural
		if p.work == workFormal || p.work == workSeeking && !rural {
			p.pension = roundTo(p.wage*(0.45+0.2*r.Float64()), 1)
		} else {
			p.pension = roundTo(1800*math.Exp(0.3*r.NormFloat64()), 1)
		}
		p.work, p.employed, p.registered = workNone, false, false
		g.push(e.t+g.days(1, 25), i, kindRetirePension)
		if !wasEmployed {
			return false
		}
		rec.Set(feedEmployment, "unemployed")
		return true
	case kindRetirePension:
		if p.pensionOn {
			return false
		}
		p.pensionOn = true
		rec.Set(feedPension, "started")
		rec.Amount = p.pension
		return true
	case kindDeposits:
		return g.depositsReport(i, rec)
	case kindProvident:
		return g.providentPayment(i, rec)
	case kindPensionResume:
		if !p.pensionOn || !p.pensionSusp {
			return false
		}
		p.pensionSusp = false
		rec.Set(feedPension, "started")
		rec.Amount = p.pension
		return true
	}
	// kindHazard
	var rates [numHazards]float64
	sum := g.rates(i, e.t, &rates)
	u := r.Float64() * sum
	cause := numHazards - 1
	for c, x := range rates {
		if u < x {
			cause = c
			break
		}
		u -= x
	}
	ok := g.hazard(i, cause, rec)
	p = &g.persons[i] // a birth may have moved the slice
	if p.alive && p.present {
		g.schedule(i, e.t)
	}
	return ok
}

// hazard makes cause happen to person i.
func (g *Generator) hazard(i int32, cause int, rec *wire.Record) bool {
	p := &g.persons[i]
	r := g.rng
	t := rec.At
	switch cause {
	case hzDeath:
		p.alive, p.diedAt = false, t
		g.scheduleEstate(i, t)
		rec.Set(feedRegistry, "died")
		rec.HH = g.households[p.hh].id
		if p.pensionOn {
			g.push(t+g.days(3, 30), i, kindPensionStop)
		}
		return true
	case hzHospital:
		if p.inHosp {
			return false
		}
		age := p.ageYears(t)
		var c *condition
		if p.chronic == 0 && r.Float64() < 0.01+0.0005*age {
			p.chronic = int8(1 + g.pickCritical(age, p.sex))
		}
		if p.chronic > 0 && r.Float64() < 0.85 {
			c = &criticalConditions[p.chronic-1]
			p.admCrit, p.lastCritical = 1, t
			if r.Float64() < 0.1 {
				p.admCrit = -1 // not every insurer flags it
			}
		} else {
			c = &commonConditions[g.pickCommon(age, p.sex)]
			p.admCrit = -1
			if r.Float64() < 0.4 {
				p.admCrit = 0
			}
		}
		g.admission++
		p.inHosp, p.admission, p.admICD, p.admAt = true, g.admission, c.icd, t
		los := float64(c.los) * math.Exp(0.35*r.NormFloat64())
		g.push(t+int64(los*secondsPerDay)+int64(r.IntN(secondsPerDay)), i, kindDischarge)
		rec.Set(feedHospital, "admitted")
		rec.Admission, rec.ICD, rec.Crit = p.admission, p.admICD, p.admCrit
		return true
	case hzWork:
		switch p.work {
		case workFormal:
			if r.Float64() < 0.35/(0.35+0.04*float64(1+2*g.households[p.hh].tier)) {
				p.wage = roundTo(p.wage*(1.02+0.08*r.Float64()), 10)
			} else {
				p.work, p.employed, p.registered = workSeeking, false, r.Float64() < 0.6
				p.seekingSince = t
			}
		case workSeeking:
			f := 0.8 + 0.3*r.Float64()
			if r.Float64() < 0.3 {
				p.work, f = workCasual, 0.6
			} else {
				p.work = workFormal
			}
			p.employed, p.registered = true, false
			p.wage = roundTo(p.wage*f, 10)
			if p.work == workFormal {
				g.startFund(i, t)
			}
		case workCasual:
			p.employed = !p.employed
			if p.employed {
				p.wage = roundTo(p.wage*(0.85+0.3*r.Float64()), 10)
				p.registered = false
			} else {
				p.registered = r.Float64() < 0.1
			}
		default:
			return false
		}
		g.workEvent(p, rec)
		return true
	case hzPension:
		if !p.pensionOn || p.pensionSusp {
			return false
		}
		if r.Float64() < 0.003/1.003 {
			p.pensionSusp = true // missed the annual certification
			g.push(t+g.days(20, 90), i, kindPensionResume)
			rec.Set(feedPension, "suspended")
		} else {
			p.pension = roundTo(p.pension*(1.02+0.03*r.Float64()), 0.5)
			rec.Set(feedPension, "changed")
		}
		rec.Amount = p.pension
		return true
	case hzDisability:
		switch {
		case p.grade > 0 && r.Float64() < 0.12:
			rec.Set(feedDisability, "revoked")
			rec.Grade, rec.Kind = p.grade, p.dkind
			p.grade = -1
			return true
		case p.grade > 0:
			ng := p.grade - 1 // worse, mostly
			if r.Float64() < 0.3 {
				ng = p.grade + 1
			}
			if ng < 1 || ng > 4 {
				return false
			}
			p.grade, p.gradeSince = ng, t
			rec.Set(feedDisability, "changed")
		case p.grade == 0:
			p.grade, p.gradeSince = int8(1+pick(r.Float64(), []float64{0.15, 0.25, 0.3, 0.3})), t
			p.dkind = uint8(r.IntN(len(wire.DisabilityKinds)))
			rec.Set(feedDisability, "registered")
		default:
			return false
		}
		rec.Grade, rec.Kind = p.grade, p.dkind
		return true
	case hzLeave:
		p.present = false
		rec.Set(feedRegistry, "member_left")
		rec.HH = g.households[p.hh].id
		return true
	case hzBirth:
		hi := p.hh
		sex := sexOf(r.Float64() < 0.52)
		day := t / secondsPerDay
		hh := &g.households[hi]
		c := person{hh: hi, birth: int32(day), sex: sex, rel: relChild, alive: true, present: true}
		if p.rel == relChild || p.rel == relOther {
			c.rel = relOther
		}
		g.uniqueID(&c.id, areaCodes[hh.area].code, c.birth, sex)
		g.persons = append(g.persons, c)
		ci := int32(len(g.persons) - 1)
		hh.members = append(hh.members, ci)
		g.schedule(ci, t)
		*rec = wire.Record{PID: c.id, At: t, Crit: -1, Birth: day, Sex: sex, Rel: c.rel}
		rec.Set(feedRegistry, "member_joined")
		rec.HH = hh.id
		rec.Area = hh.areaCode()
		return true
	}
	return false
}

// workEvent describes a person's current work status.
func (g *Generator) workEvent(p *person, rec *wire.Record) {
	if p.employed {
		rec.Set(feedEmployment, "employed")
		rec.Amount = p.wage
		return
	}
	rec.Set(feedEmployment, "unemployed")
	rec.Registered = p.registered
}

// discharge ends a stay with its bill: total, what insurance paid (more for urban employees,
// less in the countryside) and the rest, out of pocket.
func (g *Generator) discharge(p *person, rec *wire.Record) {
	r := g.rng
	var c *condition
	for k := range criticalConditions {
		if criticalConditions[k].icd == p.admICD {
			c = &criticalConditions[k]
			break
		}
	}
	if c == nil {
		for k := range commonConditions {
			if commonConditions[k].icd == p.admICD {
				c = &commonConditions[k]
				break
			}
		}
	}
	total := roundTo(c.cost*math.Exp(0.45*r.NormFloat64()), 0.01)
	share := 0.68
	if g.households[p.hh].rural {
		share = 0.55
	}
	share += 0.08 * (r.Float64()*2 - 1)
	insured := roundTo(total*share, 0.01)
	rec.Set(feedHospital, "discharged")
	rec.Admission, rec.ICD, rec.Crit = p.admission, p.admICD, p.admCrit
	rec.Total, rec.Insured = total, insured
	rec.OOP = roundTo(total-insured, 0.01)
}
