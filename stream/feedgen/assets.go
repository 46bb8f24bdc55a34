package feedgen

import (
	"math"
	"strconv"

	"safetynet/stream/feedgen/wire"
)

// Asset facts (the assets feed): what the vehicle, real-estate and business registries, the banks
// and the housing provident fund report about the population's people.
//
//   - Deposits: the banks report the balance of most households' heads (and of some spouses)
//     about once a year, the first time within the first year of the history; the balance drifts
//     between reports.
//   - Provident fund: some of the formally employed pay in (more in the cities); each quarter
//     the fund reports the monthly contribution, 24% of the wage (employee and employer shares
//     together). Payments stop with the job and start again with the next formal one.
//   - Registrations: some households own a home (most rural ones), a vehicle or a business,
//     registered to the head or the spouse and reported in the first two weeks; month by month a
//     few are registered, deregistered or transferred; a dead person's end some weeks after
//     the death.
//
// Only heads, spouses and parents hold registered assets and deposits: they do not leave their
// household in the simulation, so what the agencies report about them stays the household's.

// Asset kinds.
const (
	assetVehicle uint8 = iota
	assetProperty
	assetBusiness
)

type asset struct {
	owner int32
	kind  uint8
	on    bool
	seq   uint32 // number within the generator: the asset_id
	value float64
}

var assetTypes = [3][2]string{
	{"vehicle_registered", "vehicle_deregistered"},
	{"property_registered", "property_transferred"},
	{"business_registered", "business_deregistered"},
}

var assetPrefix = [3]string{"CL", "FC", "SC"} // 车辆, 房产, 市场主体

// ProvidentRate is the monthly provident fund contribution as a share of the wage.
const ProvidentRate = 0.24

// assignAssets gives household h its deposits, provident fund accounts and registrations as
// of the start of the history, and queues what reports them.
func (g *Generator) assignAssets(h int32) {
	if g.cfg.NoAssets && g.cfg.NoApplications {
		return
	}
	hh := &g.households[h]
	r := g.rng
	if !g.cfg.NoAssets {
		tf := tierFactor[hh.tier]
		for _, m := range hh.members {
			p := &g.persons[m]
			age := p.ageYears(g.ws)
			share := 0.0
			switch p.rel {
			case relHead:
				share = 0.8
			case relSpouse:
				share = 0.3
			}
			if r.Float64() < share {
				base := 6000 * tf * tf
				if age >= 60 {
					base *= 1.6 // savings of a working life
				}
				p.deposits = roundTo(base*math.Exp(1.1*r.NormFloat64()), 0.01)
				g.push(g.ws+int64(r.IntN(365*secondsPerDay)), m, kindDeposits)
			}
			if p.work == workFormal && p.employed {
				share := 0.3
				if hh.rural {
					share = 0.12
				}
				if hh.tier > 0 {
					share = 0.1
				}
				p.fund = r.Float64() < share
				if p.fund {
					p.fundDue = true
					g.push(g.ws+int64(r.IntN(91*secondsPerDay)), m, kindProvident)
				}
			}
		}
		owner := g.assetOwner(h)
		if owner >= 0 {
			tier := [3]float64{1, 0.6, 0.2}[hh.tier]
			home := 0.22
			if hh.rural {
				home = 0.55
			}
			if r.Float64() < home*tier {
				g.newAsset(h, owner, assetProperty, true)
				if r.Float64() < 0.04 {
					g.newAsset(h, owner, assetProperty, true)
				}
			}
			if r.Float64() < 0.07*tier+0.03*float64(g.workers(h)) {
				g.newAsset(h, owner, assetVehicle, true)
			}
			if r.Float64() < 0.03+0.04*float64(g.casual(h)) {
				g.newAsset(h, owner, assetBusiness, true)
			}
		}
	}
	// Households are looked at once a quarter from the third week of the history.
	g.push(g.ws+14*secondsPerDay+int64(r.IntN(91*secondsPerDay)), h, kindMonth)
}

// assetOwner is the member new registrations go to: the head, else a spouse or parent, alive
// and present; -1 if none.
func (g *Generator) assetOwner(h int32) int32 {
	best := int32(-1)
	for _, m := range g.households[h].members {
		p := &g.persons[m]
		if !p.alive || !p.present || p.ageYears(g.now) < 18 {
			continue
		}
		switch p.rel {
		case relHead:
			return m
		case relSpouse, relParent:
			if best < 0 {
				best = m
			}
		}
	}
	return best
}

// workers and casual count the members in formal and in casual work.
func (g *Generator) workers(h int32) (n int) {
	for _, m := range g.households[h].members {
		if p := &g.persons[m]; p.alive && p.present && p.work == workFormal && p.employed {
			n++
		}
	}
	return n
}

func (g *Generator) casual(h int32) (n int) {
	for _, m := range g.households[h].members {
		if p := &g.persons[m]; p.alive && p.present && p.work == workCasual {
			n++
		}
	}
	return n
}

// newAsset creates an asset of kind for owner; baseline ones are reported in the first two
// weeks, others by the caller now.
func (g *Generator) newAsset(h, owner int32, kind uint8, baseline bool) int32 {
	r := g.rng
	hh := &g.households[h]
	var v float64
	switch kind {
	case assetVehicle:
		v = 15000 + 60000*r.Float64()
	case assetProperty:
		v = 380000
		if hh.rural {
			v = 120000
		}
		v *= math.Exp(0.4 * r.NormFloat64())
	default:
		v = 10000 + 90000*r.Float64()*r.Float64()
	}
	g.assetSeq++
	g.assets = append(g.assets, asset{owner: owner, kind: kind, on: true, seq: g.assetSeq, value: roundTo(v, 100)})
	a := int32(len(g.assets) - 1)
	hh.assets = append(hh.assets, a)
	if baseline {
		g.push(g.ws+int64(r.IntN(14*secondsPerDay)), a, kindBaselineAsset)
	}
	return a
}

// assetRecord describes asset a's registration (on) or its end.
func (g *Generator) assetRecord(a int32, rec *wire.Record, t int64, on bool) {
	x := &g.assets[a]
	*rec = wire.Record{PID: g.persons[x.owner].id, At: t, Crit: -1}
	typ := assetTypes[x.kind][0]
	if !on {
		typ = assetTypes[x.kind][1]
	}
	rec.Set(feedAssets, typ)
	rec.AssetID = assetPrefix[x.kind] + g.enc.Tag() + "-" + strconv.FormatUint(uint64(10_000_000+x.seq), 10)
	rec.Value = x.value
}

// assetChange is a household's quarterly chance of a registration or the end of one: at most
// one a quarter, reported as the quarter's entry's event.
func (g *Generator) assetChange(h int32, rec *wire.Record, t int64) bool {
	if g.cfg.NoAssets {
		return false
	}
	r := g.rng
	hh := &g.households[h]
	var held [3]int
	for _, a := range hh.assets {
		if x := &g.assets[a]; x.on && g.persons[x.owner].alive {
			held[x.kind]++
		}
	}
	tier := [3]float64{1, 0.6, 0.2}[hh.tier]
	u := r.Float64()
	// Quarterly chances: new registrations, and the end of each held one.
	for kind := assetVehicle; kind <= assetBusiness; kind++ {
		var add, end float64
		switch kind {
		case assetVehicle:
			add, end = 0.0075*tier, 0.024
		case assetProperty:
			add, end = 0.003*tier, 0.006
		default:
			if held[kind] == 0 && u < 0.05 { // only then count the workers: it costs
				add = 0.0045 * float64(g.casual(h)+g.workers(h))
			}
			end = 0.036
		}
		if u < add {
			owner := g.assetOwner(h)
			if owner < 0 {
				return false
			}
			g.assetRecord(g.newAsset(h, owner, kind, false), rec, t, true)
			return true
		}
		u -= add
		if e := end * float64(held[kind]); u < e {
			k := r.IntN(held[kind])
			for _, a := range hh.assets {
				if x := &g.assets[a]; x.on && g.persons[x.owner].alive && x.kind == kind {
					if k == 0 {
						x.on = false
						g.assetRecord(a, rec, t, false)
						return true
					}
					k--
				}
			}
		} else {
			u -= e
		}
	}
	return false
}

// scheduleEstate queues the end of a dead person's registrations.
func (g *Generator) scheduleEstate(i int32, t int64) {
	for _, a := range g.households[g.persons[i].hh].assets {
		if x := &g.assets[a]; x.on && x.owner == i {
			g.push(t+g.days(30, 120), i, kindEstate)
			return
		}
	}
}

// estate ends one of dead person i's registrations (the property goes to an heir, the vehicle
// and the business are deregistered) and queues the next.
func (g *Generator) estate(i int32, rec *wire.Record) bool {
	t := rec.At
	var first int32 = -1
	more := false
	for _, a := range g.households[g.persons[i].hh].assets {
		if x := &g.assets[a]; x.on && x.owner == i {
			if first < 0 {
				first = a
			} else {
				more = true
			}
		}
	}
	if first < 0 {
		return false
	}
	g.assets[first].on = false
	g.assetRecord(first, rec, t, false)
	if more {
		g.push(t+g.days(1, 10), i, kindEstate)
	}
	return true
}

// depositsReport is a bank report of person i's deposits; the next comes about a year later.
func (g *Generator) depositsReport(i int32, rec *wire.Record) bool {
	p := &g.persons[i]
	r := g.rng
	if p.reported {
		p.deposits = roundTo(math.Max(0, p.deposits*math.Exp(0.25*r.NormFloat64())+600*r.NormFloat64()), 0.01)
	}
	p.reported = true
	rec.Set(feedAssets, "deposits_reported")
	rec.Balance = p.deposits
	g.push(rec.At+g.days(335, 395), i, kindDeposits)
	return true
}

// startFund queues person i's provident fund payments when the person pays into the fund (some
// of those who find formal work; those who paid before, again).
func (g *Generator) startFund(i int32, t int64) {
	if g.cfg.NoAssets {
		return
	}
	p := &g.persons[i]
	if !p.fund {
		p.fund = g.rng.Float64() < 0.2
	}
	if p.fund && !p.fundDue {
		p.fundDue = true
		g.push(t+g.days(25, 40), i, kindProvident)
	}
}

// providentPayment is the fund's quarterly report of person i's monthly contribution, while
// the person is in formal work.
func (g *Generator) providentPayment(i int32, rec *wire.Record) bool {
	p := &g.persons[i]
	if p.work != workFormal || !p.employed {
		p.fundDue = false
		return false
	}
	rec.Set(feedAssets, "provident_fund_paid")
	rec.Contribution = roundTo(p.wage*ProvidentRate, 0.01)
	g.push(rec.At+g.days(88, 93), i, kindProvident)
	return true
}

// fireOther applies an entry that is not about one person.
func (g *Generator) fireOther(e entry, rec *wire.Record) bool {
	switch e.kind {
	case kindBaselineAsset:
		x := &g.assets[e.p]
		if !x.on || !g.persons[x.owner].alive {
			return false
		}
		g.assetRecord(e.p, rec, e.t, true)
		return true
	case kindMonth:
		h := e.p
		if g.living(h) == 0 {
			return false // nobody left to apply or to register anything
		}
		g.push(e.t+g.days(88, 94), h, kindMonth)
		g.considerApplying(h, e.t)
		return g.assetChange(h, rec, e.t)
	case kindApply:
		return g.submit(e.p, rec, e.t)
	case kindDecide:
		return g.decide(e.p, rec, e.t)
	}
	return false
}
