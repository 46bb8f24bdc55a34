package feedgen

import (
	"math"
	"strconv"

	"safetynet/stream/feedgen/wire"
)

// Relations, as the registry names them.
const (
	relHead uint8 = iota
	relSpouse
	relChild
	relParent
	relOther
)

// Work situations of a person.
const (
	workNone    uint8 = iota // child, student, homemaker, retired
	workFormal               // wage employment; may lose the job
	workCasual               // casual work (灵活就业): spells of work and of none
	workSeeking              // unemployed, looking for work
)

// Household kinds, with their share of households. The mix follows a low-income family
// database: many people living alone, few large families (1.63 people per household).
const (
	kindSingle = iota
	kindElderlyAlone
	kindElderlyCouple
	kindCouple
	kindSingleParent
	kindFamily
	kindThreeGen
	kindOther
	numKinds
)

var kindShares = [numKinds]float64{0.38, 0.25, 0.11, 0.05, 0.04, 0.10, 0.04, 0.03}

// Economic tiers of a household: a factor on wages and pensions, and the chance of lacking work.
var tierFactor = [3]float64{1.0, 0.8, 0.33}
var tierShares = [3]float64{0.9, 0.085, 0.015}

type household struct {
	id      string
	area    uint8  // index in areaCodes
	place   uint16 // township and village within the area (areaCode)
	rural   bool
	tier    uint8
	members []int32

	assets []int32 // indexes into Generator.assets: what its persons have registered, ever
	app    *applying
}

type person struct {
	id    [18]byte
	hh    int32
	birth int32 // days since 1970-01-01
	sex   byte  // 'F' or 'M'
	rel   uint8

	alive, present bool
	work           uint8
	employed       bool
	wage           float64 // current wage when employed, else the last one
	registered     bool    // registered as unemployed
	pension        float64
	pensionOn      bool
	pensionSusp    bool
	grade          int8 // disability grade 1–4; 0 none; -1 revoked
	dkind          uint8
	chronic        int8 // index into criticalConditions + 1; 0 none
	inHosp         bool
	retireAt       int64 // when the person retires, 0 if not scheduled
	admission      uint64
	admICD         string
	admCrit        int8 // -1 omit, 0 false, 1 true
	admAt          int64
	// For looking at the population from tests: when these last happened.
	diedAt, lastCritical, gradeSince int64

	seekingSince int64   // when the person last became unemployed and looking for work
	deposits     float64 // balance of the person's deposits the banks last reported
	reported     bool    // the banks have reported the person's deposits
	fund         bool    // pays into the housing provident fund while in formal work
	fundDue      bool    // a provident fund payment is queued
}

func (p *person) ageYears(t int64) float64 {
	return float64(t/secondsPerDay-int64(p.birth)) / 365.25
}

// buildPopulation creates the households and people as of the start of the window ws.
func (g *Generator) buildPopulation(n int) {
	g.households = make([]household, 0, n)
	g.persons = make([]person, 0, n*163/100+16)
	g.ids = make(map[[18]byte]struct{}, n*17/10)
	wsDay := g.ws / secondsPerDay
	base := 100_000_000 + g.rng.IntN(100_000_000)
	for h := 0; h < n; h++ {
		kind := pick(g.rng.Float64(), kindShares[:])
		rural := g.rng.Float64() < 0.35
		var area int
		if rural {
			area = ruralAreas[g.rng.IntN(len(ruralAreas))]
		} else {
			area = urbanAreas[g.rng.IntN(len(urbanAreas))]
		}
		hh := household{
			id:    "H" + strconv.Itoa(base+h*7+g.rng.IntN(7)),
			area:  uint8(area),
			place: uint16(splitmix(uint64(h)) % placesPerArea), // not from rng: the population stays the same
			rural: rural,
			tier:  uint8(pick(g.rng.Float64(), tierShares[:])),
		}
		g.households = append(g.households, hh)
		hi := int32(len(g.households) - 1)
		add := func(rel uint8, age float64, sex byte) int {
			birth := wsDay - int64(age*365.25) - int64(g.rng.IntN(365))
			return g.addPerson(hi, rel, birth, sex)
		}
		r := g.rng
		switch kind {
		case kindSingle:
			add(relHead, 18+45*betaish(r.Float64()), sexOf(r.Float64() < 0.55))
		case kindElderlyAlone:
			add(relHead, elderlyAge(r.Float64()), sexOf(r.Float64() < 0.35))
		case kindElderlyCouple:
			a := 62 + 26*r.Float64()
			add(relHead, a, 'M')
			add(relSpouse, a-5*r.Float64(), 'F')
		case kindCouple:
			a := 22 + 37*r.Float64()
			add(relHead, a, 'M')
			add(relSpouse, math.Max(20, a-6*r.Float64()+1), 'F')
		case kindSingleParent:
			a := 25 + 25*r.Float64()
			add(relHead, a, sexOf(r.Float64() < 0.2))
			add(relChild, math.Min(17, (a-20)*r.Float64()), sexOf(r.Float64() < 0.5))
		case kindFamily:
			a := 25 + 30*r.Float64()
			g.addFamily(hi, a, add)
		case kindThreeGen:
			a := 30 + 25*r.Float64()
			g.addFamily(hi, a, add)
			pa := a + 22 + 10*r.Float64()
			if r.Float64() < 0.6 {
				add(relParent, pa, 'M')
			}
			add(relParent, pa-3*r.Float64(), 'F')
		case kindOther:
			a := 18 + 40*r.Float64()
			add(relHead, a, sexOf(r.Float64() < 0.5))
			add(relOther, 16+50*r.Float64(), sexOf(r.Float64() < 0.5))
		}
	}
	g.initialPersons = len(g.persons)
	for i := range g.persons {
		g.assignCircumstances(int32(i))
	}
	for h := range g.households {
		g.assignAssets(int32(h))
	}
}

func (g *Generator) addFamily(hi int32, a float64, add func(uint8, float64, byte) int) {
	r := g.rng
	add(relHead, a, 'M')
	add(relSpouse, math.Max(20, a-5*r.Float64()+1), 'F')
	kids := 1
	if r.Float64() < 0.4 {
		kids = 2
	}
	if r.Float64() < 0.08 {
		kids = 3
	}
	for k := 0; k < kids; k++ {
		add(relChild, math.Max(0, math.Min(a-21, 24)*r.Float64()), sexOf(r.Float64() < 0.5))
	}
}

// addPerson creates a person with a fresh, unique resident ID.
func (g *Generator) addPerson(hi int32, rel uint8, birth int64, sex byte) int {
	hh := &g.households[hi]
	area := areaCodes[hh.area].code
	if g.rng.Float64() < 0.15 { // registered first elsewhere
		area = areaCodes[g.rng.IntN(len(areaCodes))].code
	}
	p := person{hh: hi, birth: int32(birth), sex: sex, rel: rel, alive: true, present: true}
	g.uniqueID(&p.id, area, int32(birth), sex)
	g.persons = append(g.persons, p)
	i := len(g.persons) - 1
	hh.members = append(hh.members, int32(i))
	return i
}

// uniqueID draws sequence numbers until the ID is not taken.
func (g *Generator) uniqueID(id *[18]byte, area string, birth int32, sex byte) {
	for {
		seq := g.rng.IntN(500) * 2 // even: female
		if sex == 'M' {
			seq++
		}
		wire.MakeID(id, area, birth, seq)
		if _, taken := g.ids[*id]; !taken {
			g.ids[*id] = struct{}{}
			return
		}
	}
}

// assignCircumstances sets a person's work, pension, disability and chronic illness as of the
// start of the window, and queues the events that tell the agencies' feeds about them.
func (g *Generator) assignCircumstances(i int32) {
	p := &g.persons[i]
	hh := &g.households[p.hh]
	r := g.rng
	age := p.ageYears(g.ws)
	f := tierFactor[hh.tier] * math.Exp(0.25*r.NormFloat64())
	retireAge := 60.0
	if p.sex == 'F' {
		retireAge = 55
	}
	switch {
	case age < 18 || (p.rel == relChild && age < 22 && r.Float64() < 0.6):
		// child or student
	case age < retireAge:
		u := r.Float64()
		idle := 0.10 + 0.15*float64(hh.tier) // homemakers, carers
		if len(hh.members) == 1 {
			idle = 0.02 + 0.06*float64(hh.tier) // someone living alone lives on something
		}
		seeking := 0.02 + 0.06*float64(hh.tier)
		casual := 0.10
		if hh.rural {
			casual = 0.45
		}
		switch {
		case u < idle:
		case u < idle+seeking:
			p.work = workSeeking
			p.registered = r.Float64() < 0.6
			p.seekingSince = g.ws - g.days(0, 300)
			p.wage = roundTo(4500*f, 10)
		case u < idle+seeking+casual:
			p.work = workCasual
			p.employed = r.Float64() < 0.87
			p.wage = roundTo(3000*f, 10)
		default:
			p.work = workFormal
			p.employed = true
			w := 6500.0
			if hh.rural {
				w = 4800
			}
			p.wage = roundTo(w*f, 10)
		}
		if p.work != workNone {
			p.retireAt = daysToSec(int64(p.birth)) + int64(retireAge*365.25*secondsPerDay)
		}
	default:
		p.pensionOn = true
		switch {
		case hh.rural && r.Float64() < 0.06: // the residents' basic pension only
			p.pension = roundTo(800*math.Exp(0.25*r.NormFloat64())*math.Sqrt(tierFactor[hh.tier]), 1)
		case hh.rural:
			p.pension = roundTo(2700*f, 1)
		default:
			p.pension = roundTo(3800*f, 1)
		}
		if hh.tier == 2 && r.Float64() < 0.3 {
			p.pensionOn = false // no pension at all
		}
	}
	// Disability: about 6% of people, more with age.
	dis := 0.03 + 0.0012*age
	if r.Float64() < dis {
		p.grade = int8(1 + pick(r.Float64(), []float64{0.1, 0.2, 0.3, 0.4}))
		p.dkind = uint8(r.IntN(len(wire.DisabilityKinds)))
	}
	// Chronic critical illness already known: uraemia, cancers, leukaemia.
	if r.Float64() < 0.001+0.00005*age {
		p.chronic = int8(1 + g.pickCritical(age, p.sex))
	}

	start := g.ws + int64(r.IntN(14*secondsPerDay))
	if p.work == workFormal || p.work == workSeeking || (p.work == workCasual && p.employed) {
		g.push(start, i, kindBaselineWork)
	}
	if p.pensionOn {
		g.push(start+int64(r.IntN(secondsPerDay)), i, kindBaselinePension)
	}
	if p.grade > 0 {
		g.push(start+int64(r.IntN(2*secondsPerDay)), i, kindBaselineDisability)
	}
	if p.retireAt > g.ws {
		g.push(p.retireAt+int64(r.IntN(30*secondsPerDay)), i, kindRetire)
	}
	g.schedule(i, g.ws+14*secondsPerDay)
}

func daysToSec(d int64) int64 { return d * secondsPerDay }

func sexOf(male bool) byte {
	if male {
		return 'M'
	}
	return 'F'
}

// elderlyAge is the age of someone living alone past 60: many in their sixties and seventies,
// fewer beyond.
func elderlyAge(u float64) float64 {
	switch {
	case u < 0.40:
		return 60 + 10*u/0.40
	case u < 0.78:
		return 70 + 10*(u-0.40)/0.38
	default:
		return 80 + 15*(u-0.78)/0.22
	}
}

// betaish maps a uniform number to a hump-shaped one on [0,1].
func betaish(u float64) float64 { return 0.5 - 0.5*math.Cos(math.Pi*u) }

// pick returns the index i with probability shares[i] (shares sum to 1).
func pick(u float64, shares []float64) int {
	for i, s := range shares {
		if u < s {
			return i
		}
		u -= s
	}
	return len(shares) - 1
}

func roundTo(x, step float64) float64 { return math.Round(x/step) * step }

// A plausible division tree under each county-level area (统计用区划代码): urban districts have
// streets (街道, township codes 001–014) of communities (社区, village codes 001–030); rural
// counties have towns (镇, 101–112) of villages (村, 201–230).
const (
	townshipsPerArea = 12
	villagesPerPlace = 30
	placesPerArea    = townshipsPerArea * villagesPerPlace
)

// areaCode is the household's 12-digit statistical division code, e.g. 420106003017.
func (hh *household) areaCode() string {
	township, village := 1+int(hh.place)/villagesPerPlace, 1+int(hh.place)%villagesPerPlace
	if hh.rural {
		township, village = 100+township, 200+village
	}
	b := make([]byte, 0, 12)
	b = append(b, areaCodes[hh.area].code...)
	b = append(b, byte('0'+township/100), byte('0'+township/10%10), byte('0'+township%10))
	b = append(b, byte('0'+village/100), byte('0'+village/10%10), byte('0'+village%10))
	return string(b)
}
