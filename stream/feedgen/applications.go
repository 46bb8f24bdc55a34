package feedgen

import (
	"strconv"

	"safetynet/stream/feedgen/wire"
)

// Aid applications (the applications feed), under the self-declaration and commitment system:
// a household applies, declaring its members, their incomes and its assets; the agency decides
// some weeks later.
//
// Who applies is the simulation's business, not the risk model's: once a quarter a household
// that the simulation itself puts in need — a per-capita income below its own poverty line
// (¥1,100 a month in the cities, ¥800 in the countryside), a working-age member looking for
// work for over 100 days while the per-capita income is below twice the line, or a critical
// admission in the last 180 days while it is below three times the line — applies with
// probability 30%; any other household with probability 0.15% (and is mostly rejected). A
// household does not apply again while an application is pending, for a year after an
// approval, or for six months after a rejection or withdrawal.
//
// Most declarations are true: the registry's members, each with the wage and active pension the
// feeds report (rounded to ¥100), the vehicles and properties registered to the household, the
// deposits the banks last reported (rounded to ¥100), a business if one is registered. A share
// (Config.MisstatementRate) hides something the household has: a member's wage, a vehicle, a
// business, or most of deposits above ¥15,000 (Event.Misstated names which). A household with
// none of these has nothing to hide, and declares the truth.

// Programmes and misstatements.
const (
	progDibao = iota
	progTekun
	progTemporary
	progMedical
)

var programs = [...]string{"dibao", "tekun", "temporary", "medical"}

// Misstatements (Event.Misstated).
const (
	MisstatedWage     = "hidden_wage"
	MisstatedVehicle  = "hidden_vehicle"
	MisstatedBusiness = "hidden_business"
	MisstatedDeposits = "understated_deposits"
)

// Application states of a household.
const (
	appNone      uint8 = iota // may apply from notBefore
	appScheduled              // a kindApply is queued
	appPending                // submitted; a kindDecide is queued
)

// applying is a household's application state.
type applying struct {
	state     uint8
	notBefore int64
	seq       uint64 // the current application
	applicant int32
	program   uint8
	needy     bool
	benefit   float64
}

// povertyLine is the simulation's own line (yuan a month per person): it decides who applies,
// not who the risk model flags.
func povertyLine(rural bool) float64 {
	if rural {
		return 800
	}
	return 1100
}

// need reports whether household h is in need at t by the simulation's proxy, with the
// programme it would apply to and its per-capita income.
func (g *Generator) need(h int32, t int64) (bool, uint8, float64) {
	hh := &g.households[h]
	n, income := 0, 0.0
	seeking, critical, elderly, severe := false, false, true, false
	for _, m := range hh.members {
		p := &g.persons[m]
		if !p.alive || !p.present {
			continue
		}
		n++
		income += g.income(p)
		age := p.ageYears(t)
		if age < 60 {
			elderly = false
		}
		if p.grade == 1 || p.grade == 2 {
			severe = true
		}
		if p.work == workSeeking && t-p.seekingSince > 100*secondsPerDay {
			seeking = true
		}
		if p.lastCritical > 0 && t-p.lastCritical < 180*secondsPerDay {
			critical = true
		}
	}
	if n == 0 {
		return false, 0, 0
	}
	pc := income / float64(n)
	line := povertyLine(hh.rural)
	switch {
	case pc < line && n == 1 && (elderly || severe):
		return true, progTekun, pc
	case pc < line:
		return true, progDibao, pc
	case critical && pc < 3*line:
		return true, progMedical, pc
	case seeking && pc < 2*line:
		return true, progTemporary, pc
	}
	return false, progDibao, pc
}

// income is what person p earns a month now: the wage when employed and an active pension.
func (g *Generator) income(p *person) float64 {
	x := 0.0
	if p.employed {
		x += p.wage
	}
	if p.pensionOn && !p.pensionSusp {
		x += p.pension
	}
	return x
}

// considerApplying is the quarterly look at whether household h applies for aid.
func (g *Generator) considerApplying(h int32, t int64) {
	if g.cfg.NoApplications {
		return
	}
	hh := &g.households[h]
	if hh.app == nil {
		hh.app = &applying{}
	}
	a := hh.app
	if a.state != appNone || t < a.notBefore {
		return
	}
	needy, prog, pc := g.need(h, t)
	p := 0.0015
	if needy {
		p = 0.3
	}
	if g.rng.Float64() >= p {
		return
	}
	a.state, a.needy, a.program = appScheduled, needy, prog
	line := povertyLine(hh.rural)
	switch prog {
	case progTekun:
		a.benefit = roundTo(1.3*line, 10)
	case progDibao:
		a.benefit = roundTo(max(100, (line-pc)*float64(g.living(h))), 10)
	case progTemporary:
		a.benefit = roundTo(2*line, 10)
	default:
		a.benefit = roundTo(1.5*line, 10)
	}
	g.push(t+g.days(0, 60), h, kindApply)
}

// living counts the members alive and present.
func (g *Generator) living(h int32) (n int) {
	for _, m := range g.households[h].members {
		if p := &g.persons[m]; p.alive && p.present {
			n++
		}
	}
	return n
}

// applicant is the member who applies: the head, else the oldest adult alive and present.
func (g *Generator) applicant(h int32, t int64) int32 {
	best, age := int32(-1), 0.0
	for _, m := range g.households[h].members {
		p := &g.persons[m]
		if !p.alive || !p.present {
			continue
		}
		if p.rel == relHead && p.ageYears(t) >= 18 {
			return m
		}
		if a := p.ageYears(t); a >= 18 && a > age {
			best, age = m, a
		}
	}
	return best
}

// submit is household h's application: the declaration, true or with a misstatement.
func (g *Generator) submit(h int32, rec *wire.Record, t int64) bool {
	hh := &g.households[h]
	a := hh.app
	ap := g.applicant(h, t)
	if ap < 0 {
		a.state, a.notBefore = appNone, t+180*secondsPerDay
		return false
	}
	r := g.rng
	d := &wire.Declared{}
	var earners []int
	for _, m := range hh.members {
		p := &g.persons[m]
		if !p.alive || !p.present {
			continue
		}
		if p.employed && p.wage >= 1500 {
			earners = append(earners, len(d.Members))
		}
		d.Members = append(d.Members, wire.DeclaredMember{PID: p.id, MonthlyIncome: roundTo(g.income(p), 100)})
	}
	var held [3]int
	deposits := 0.0
	for _, ai := range hh.assets {
		if x := &g.assets[ai]; x.on {
			held[x.kind]++
		}
	}
	for _, m := range hh.members {
		if p := &g.persons[m]; p.reported {
			deposits += p.deposits
		}
	}
	d.Vehicles, d.Properties = held[assetVehicle], held[assetProperty]
	d.BusinessOwner = held[assetBusiness] > 0
	d.FinancialAssets = roundTo(deposits, 100)

	var can []string
	if len(earners) > 0 {
		can = append(can, MisstatedWage)
	}
	if held[assetVehicle] > 0 {
		can = append(can, MisstatedVehicle)
	}
	if held[assetBusiness] > 0 {
		can = append(can, MisstatedBusiness)
	}
	if deposits >= 15000 {
		can = append(can, MisstatedDeposits)
	}
	g.apps++
	misstated := ""
	if len(can) > 0 {
		g.canHide++
		// Only a household with something to hide can hide it: those that can do so more
		// often, so that the share over all applications is the configured one.
		p := g.cfg.MisstatementRate * float64(g.apps+1) / float64(g.canHide+1)
		if r.Float64() < p {
			misstated = can[r.IntN(len(can))]
		}
		switch misstated {
		case MisstatedWage:
			k := earners[r.IntN(len(earners))]
			m := &d.Members[k]
			var p *person
			for _, mi := range hh.members {
				if g.persons[mi].id == m.PID {
					p = &g.persons[mi]
				}
			}
			m.MonthlyIncome = 0
			if p.pensionOn && !p.pensionSusp {
				m.MonthlyIncome = roundTo(p.pension, 100)
			}
		case MisstatedVehicle:
			d.Vehicles = 0
		case MisstatedBusiness:
			d.BusinessOwner = false
		case MisstatedDeposits:
			d.FinancialAssets = roundTo(deposits*(0.1+0.2*r.Float64()), 100)
		}
	}
	g.appSeq++
	a.seq, a.applicant, a.state = g.appSeq, ap, appPending
	*rec = wire.Record{PID: g.persons[ap].id, At: t, Crit: -1, HH: hh.id}
	rec.Set(feedApplications, "submitted")
	rec.AppID = g.appID(a.seq)
	rec.Program = programs[a.program]
	rec.Declared = d
	g.misstated = misstated
	g.push(t+g.days(14, 45), h, kindDecide)
	return true
}

// decide is the agency's decision on household h's pending application (a few are withdrawn
// first): most from households in need approved, most others rejected.
func (g *Generator) decide(h int32, rec *wire.Record, t int64) bool {
	hh := &g.households[h]
	a := hh.app
	r := g.rng
	*rec = wire.Record{PID: g.persons[a.applicant].id, At: t, Crit: -1, HH: hh.id}
	rec.AppID = g.appID(a.seq)
	a.state = appNone
	u := r.Float64()
	switch {
	case u < 0.03:
		rec.Set(feedApplications, "withdrawn")
		a.notBefore = t + 180*secondsPerDay
		return true
	case a.needy && u < 0.9 || !a.needy && u < 0.18:
		rec.Set(feedApplications, "decided")
		rec.Decision, rec.Benefit = "approved", a.benefit
		a.notBefore = t + 365*secondsPerDay
	default:
		rec.Set(feedApplications, "decided")
		rec.Decision = "rejected"
		a.notBefore = t + 180*secondsPerDay
	}
	rec.Program = programs[a.program]
	return true
}

// appID is the civil-affairs office's number of application n.
func (g *Generator) appID(n uint64) string {
	return "SQ" + g.enc.Tag() + "-" + strconv.FormatUint(10_000_000+n, 10)
}
