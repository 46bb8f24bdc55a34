package scorer

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Ages that divide members into children, working age and elderly, and the school years.
const (
	ageSchool    = 6  // children in school from 6 …
	ageSchoolEnd = 18 // … until 18 (compulsory education and senior secondary school)
	ageAdult     = 16 // under 16: a child dependant; 16 to 59: working age
	ageElderly   = 60 // 60 and over: an elderly dependant
)

// Points of the rules. docs/model.md explains each.
const (
	ptsDependency      = 70.0 // × share of living members who are dependants (<16 or ≥60)
	ptsElderlyAlone    = 30.0 // one living member, aged 60 or over
	ptsSoleAdult       = 20.0 // only one working-age member, with dependants
	ptsUnemployed      = 30.0 // a working-age member out of work …
	ptsUnemployedStep  = 20.0 // … plus this for each unemployment step reached
	ptsUnregistered    = 10.0 // … plus this when not registered as unemployed
	ptsAdmission       = 30.0 // an admission within the recent window; half when older
	ptsCriticalAdm     = 60.0 // a critical-illness admission within the recent window; half when older
	ptsFurtherDisabled = 10.0 // each disabled member beyond the most severe one
	ptsSchoolChild     = 10.0 // each member aged 6–17
	catastrophicShare  = 0.4  // out-of-pocket medical costs at this share of annual income score 100
	maxAmount          = 1e9  // amounts above this (yuan) are taken as this
)

// ptsGrade are the disability points of the most severe grade (index = grade).
var ptsGrade = [5]float64{0, 80, 60, 40, 20}

// Dimension indexes, in the order of Dimensions.
const (
	dDemo = iota
	dIncome
	dEmploy
	dHealth
	dDisab
	dRigid
)

// Trigger indexes, in the order of triggerCodes.
const (
	tMainEarner = iota
	tCritical
	tDisability
	tIncome
)

// memberFacts is what the model needs of a member, with the instants it needs precomputed.
type memberFacts struct {
	m                     *Member
	knownAge              bool
	at6, at16, at18, at60 time.Time
	died                  bool
	diedAt, deathUntil    time.Time
	income                float64 // monthly wage (employed) + active pension
	incomeKnown           bool    // an agency reported work or a pension for this member
	unemployed            bool
	stepAt                [8]time.Time
	nsteps                int
	grade                 int // 1–4; 0 none
	disSince, disUntil    time.Time
}

func (f *memberFacts) alive(t time.Time) bool { return !f.died || t.Before(f.diedAt) }

func (f *memberFacts) child(t time.Time) bool   { return f.knownAge && t.Before(f.at16) }
func (f *memberFacts) elderly(t time.Time) bool { return f.knownAge && !t.Before(f.at60) }
func (f *memberFacts) school(t time.Time) bool {
	return f.knownAge && !t.Before(f.at6) && t.Before(f.at18)
}

// admissionFacts is what the model needs of an admission.
type admissionFacts struct {
	a                                   *Admission
	member                              int
	admitted                            time.Time
	open                                bool // not discharged
	recentUntil, windowUntil, critUntil time.Time
	critical                            bool
	oop                                 float64
}

func (f *admissionFacts) counts(t time.Time) bool {
	return !t.Before(f.admitted) && (f.open || t.Before(f.windowUntil))
}

// prepared holds a household's facts for repeated evaluation at different instants.
type prepared struct {
	members    []memberFacts
	admissions []admissionFacts
	memBuf     [6]memberFacts
	admBuf     [8]admissionFacts
}

// amount sanitises a yuan amount: negative and NaN are 0, huge is maxAmount.
func amount(x float64) float64 {
	if !(x > 0) {
		return 0
	}
	return min(x, maxAmount)
}

func (m *Model) prepare(p *prepared, h *Household) {
	p.members = p.memBuf[:0]
	p.admissions = p.admBuf[:0]
	for i := range h.Members {
		mem := &h.Members[i]
		f := memberFacts{m: mem}
		if b := mem.BirthDate; !b.IsZero() {
			// Birthdays as b.AddDate(n, 0, 0) gives them, decomposing b once.
			f.knownAge = true
			y, mo, d := b.Date()
			hh, mi, ss := b.Clock()
			ns, loc := b.Nanosecond(), b.Location()
			f.at6 = time.Date(y+ageSchool, mo, d, hh, mi, ss, ns, loc)
			f.at16 = time.Date(y+ageAdult, mo, d, hh, mi, ss, ns, loc)
			f.at18 = time.Date(y+ageSchoolEnd, mo, d, hh, mi, ss, ns, loc)
			f.at60 = time.Date(y+ageElderly, mo, d, hh, mi, ss, ns, loc)
		}
		if mem.Died != nil {
			f.died = true
			f.diedAt = *mem.Died
			f.deathUntil = m.mainEarnerDeath.After(f.diedAt)
		}
		f.incomeKnown = mem.Employment != nil || mem.Pension != nil
		if e := mem.Employment; e != nil {
			if e.Employed {
				f.income += amount(e.MonthlyWage)
			} else {
				f.unemployed = true
				f.nsteps = len(m.unemploymentSteps)
				for k, s := range m.unemploymentSteps {
					f.stepAt[k] = s.After(e.Since)
				}
			}
		}
		if pn := mem.Pension; pn != nil && pn.Status != PensionSuspended && pn.Status != PensionStopped {
			f.income += amount(pn.MonthlyAmount)
		}
		if d := mem.Disability; d != nil && !d.Revoked && d.Grade >= 1 && d.Grade <= 4 {
			f.grade = d.Grade
			if !d.Since.IsZero() {
				f.disSince = d.Since
				f.disUntil = m.newDisability.After(d.Since)
			}
		}
		p.members = append(p.members, f)
		for j := range mem.Admissions {
			a := &mem.Admissions[j]
			af := admissionFacts{a: a, member: i, admitted: a.Admitted, open: a.Discharged == nil, oop: amount(a.OutOfPocket)}
			if a.Discharged != nil {
				af.recentUntil = m.healthRecent.After(*a.Discharged)
				af.windowUntil = m.health.After(*a.Discharged)
				af.critUntil = m.critical.After(*a.Discharged)
			}
			af.critical = a.CriticalIllness || m.criticalICD(a.ICD10)
			p.admissions = append(p.admissions, af)
		}
	}
}

// criticalICD reports whether an ICD-10 code lies in the model's critical-illness ranges.
func (m *Model) criticalICD(code string) bool {
	for _, r := range m.critical10 {
		if in, ok := r.ContainsRaw(code); !ok || in {
			return in
		}
	}
	return false
}

// scratch is the reusable working memory of one Assess call.
type scratch struct {
	p     prepared
	ex    explainer
	order []int
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// outcome is what decides whether an assessment changed: the rounded total and dimension
// scores, and the set of triggers.
type outcome struct {
	total float64
	dims  [6]float64
	trig  uint8
}

// Assess scores a household at an instant. It is a pure function of its arguments.
//
// Members with Died set at or before now are not living members: they bring no income and are
// not counted, but their death may fire the main-earner trigger. Admissions count from their
// admission until the health window after discharge (an admission without discharge counts as
// long as it is open); their out-of-pocket costs count towards rigid expenditure whoever the
// patient was.
func Assess(m *Model, h Household, now time.Time) Assessment { return assess(m, &h, now, true) }

// Score is Assess without the reasons: the total, the dimension scores, the triggers and
// NextChange, equal to Assess's, at a fraction of the cost (no texts are written). Callers that
// explain only some assessments (the monitor explains those that change a level) score first.
func Score(m *Model, h Household, now time.Time) Assessment { return assess(m, &h, now, false) }

func assess(m *Model, h *Household, now time.Time, explain bool) Assessment {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	p := &sc.p
	m.prepare(p, h)
	a := Assessment{ModelVersion: m.Version, At: now}
	var ex *explainer
	if explain {
		ex = &sc.ex
		*ex = explainer{m: m, p: p, t: now, reasons: sc.ex.reasons[:0], refs: sc.ex.refs[:0], buf: sc.ex.buf[:0]}
	}
	o := m.eval(p, now, ex)
	a.Total = o.total
	a.Dimensions = make([]DimensionScore, len(Dimensions))
	for i, d := range Dimensions {
		a.Dimensions[i] = DimensionScore{Name: d, Score: o.dims[i], Weight: m.weights[i]}
	}
	if ex != nil {
		order := sc.order[:0]
		for i := range ex.reasons {
			order = append(order, i)
		}
		slices.SortStableFunc(order, func(i, j int) int { return cmpReason(&ex.reasons[i], &ex.reasons[j]) })
		a.Reasons = make([]Reason, len(order))
		for k, i := range order {
			a.Reasons[k] = ex.reasons[i]
		}
		sc.order = order
		ex.m, ex.p = nil, nil
	}
	for i, code := range triggerCodes {
		if o.trig&(1<<i) != 0 {
			a.Triggers = append(a.Triggers, Trigger{Code: code, Level: m.triggers[i].level})
		}
	}
	a.NextChange = m.nextChange(p, now, o)
	return a
}

// nextChange returns the earliest instant after now at which the outcome differs from o, or
// zero. The outcome is a step function of time whose steps can only fall on the candidate
// instants (birthdays, window ends, unemployment steps, deaths), so the earliest candidate with
// a different outcome is the answer.
func (m *Model) nextChange(p *prepared, now time.Time, o outcome) time.Time {
	var buf [48]time.Time
	cs := buf[:0]
	add := func(t time.Time) {
		if t.After(now) {
			cs = append(cs, t)
		}
	}
	for i := range p.members {
		f := &p.members[i]
		if f.knownAge {
			add(f.at6)
			add(f.at16)
			add(f.at18)
			add(f.at60)
		}
		if f.died {
			add(f.diedAt)
			add(f.deathUntil)
		}
		for k := range f.nsteps {
			add(f.stepAt[k])
		}
		if f.grade > 0 && !f.disSince.IsZero() {
			add(f.disSince)
			add(f.disUntil)
		}
	}
	for i := range p.admissions {
		f := &p.admissions[i]
		add(f.admitted)
		if !f.open {
			add(f.recentUntil)
			add(f.windowUntil)
			if f.critical {
				add(f.critUntil)
			}
		}
	}
	slices.SortFunc(cs, time.Time.Compare)
	var last time.Time
	for i, t := range cs {
		if i > 0 && t.Equal(last) {
			continue
		}
		last = t
		if m.eval(p, t, nil) != o {
			return t
		}
	}
	return time.Time{}
}

// eval scores the prepared household at t. With ex non-nil it also writes the reasons.
func (m *Model) eval(p *prepared, t time.Time, ex *explainer) outcome {
	var raw [6]float64
	var o outcome

	living, children, elderly, working, school := 0, 0, 0, 0, 0
	income := 0.0
	incomeKnown := false
	for i := range p.members {
		f := &p.members[i]
		// A deceased member's reported income counts as known: the household lost it.
		incomeKnown = incomeKnown || f.incomeKnown
		if !f.alive(t) {
			continue
		}
		living++
		income += f.income
		switch {
		case f.child(t):
			children++
		case f.elderly(t):
			elderly++
		default:
			working++
		}
		if f.school(t) {
			school++
		}
	}
	if living == 0 {
		return o
	}

	// Demographic (年龄结构).
	if dep := children + elderly; dep > 0 {
		pts := ptsDependency * float64(dep) / float64(living)
		raw[dDemo] += pts
		ex.dependants(pts, dep, children, elderly, living)
		if living == 1 && elderly == 1 {
			raw[dDemo] += ptsElderlyAlone
			ex.elderlyAlone()
		}
		if working == 1 {
			raw[dDemo] += ptsSoleAdult
			ex.soleAdult(dep)
		}
	}

	// Income (经济状况). A household no agency has reported work or a pension for has an
	// unknown income, not a zero one: the registry alone must not raise alerts.
	pc := income / float64(living)
	top := m.margin * m.standard
	if !incomeKnown {
		ex.incomeUnknown()
	} else if pc < top {
		pts := 100 * min(1, (top-pc)/(top-m.standard))
		raw[dIncome] = pts
		ex.income(pts, pc)
	}
	if incomeKnown && pc < m.standard && m.triggers[tIncome].enabled {
		o.trig |= 1 << tIncome
		ex.trigger(tIncome, pc)
	}

	// Employment (就业), disability (残疾), and the member triggers.
	maxIncome := 0.0
	for i := range p.members {
		maxIncome = max(maxIncome, p.members[i].income)
	}
	best, disabled := 0, 0
	for i := range p.members {
		f := &p.members[i]
		if f.died && maxIncome > 0 && f.income == maxIncome && !t.Before(f.diedAt) && t.Before(f.deathUntil) && m.triggers[tMainEarner].enabled {
			if o.trig&(1<<tMainEarner) == 0 {
				ex.trigger(tMainEarner, float64(i))
			}
			o.trig |= 1 << tMainEarner
		}
		if !f.alive(t) {
			continue
		}
		if f.unemployed && !f.child(t) && !f.elderly(t) {
			k := 0
			for k < f.nsteps && !t.Before(f.stepAt[k]) {
				k++
			}
			pts := ptsUnemployed + ptsUnemployedStep*float64(k)
			if !f.m.Employment.Registered {
				pts += ptsUnregistered
			}
			raw[dEmploy] += pts
			ex.unemployed(pts, f)
		}
		if f.grade > 0 {
			disabled++
			if best == 0 || f.grade < p.members[best-1].grade {
				best = i + 1
			}
			if f.grade <= 2 && !f.disSince.IsZero() && !t.Before(f.disSince) && t.Before(f.disUntil) && m.triggers[tDisability].enabled {
				if o.trig&(1<<tDisability) == 0 {
					ex.trigger(tDisability, float64(i))
				}
				o.trig |= 1 << tDisability
			}
		}
	}
	if best > 0 {
		f := &p.members[best-1]
		raw[dDisab] = ptsGrade[f.grade] + ptsFurtherDisabled*float64(disabled-1)
		ex.disability(ptsGrade[f.grade], f, disabled-1)
	}

	// Health (健康状况) and rigid expenditure (刚性支出).
	oop := 0.0
	for i := range p.admissions {
		f := &p.admissions[i]
		if !f.counts(t) {
			continue
		}
		oop += f.oop
		if !p.members[f.member].alive(t) {
			continue
		}
		recent := f.open || t.Before(f.recentUntil)
		pts := ptsAdmission
		if f.critical {
			pts = ptsCriticalAdm
			if (f.open || t.Before(f.critUntil)) && m.triggers[tCritical].enabled {
				if o.trig&(1<<tCritical) == 0 {
					ex.trigger(tCritical, float64(i))
				}
				o.trig |= 1 << tCritical
			}
		}
		if !recent {
			pts /= 2
		}
		raw[dHealth] += pts
	}
	if raw[dHealth] > 0 {
		ex.health()
	}
	if oop > 0 {
		pts := 100.0
		if annual := 12 * income; annual > 0 {
			pts = min(100, 100*oop/annual/catastrophicShare)
		}
		raw[dRigid] += pts
		ex.medical(pts, oop, income)
	}
	if school > 0 {
		pts := ptsSchoolChild * float64(school)
		raw[dRigid] += pts
		ex.school(pts, school)
	}

	total := 0.0
	for i, r := range raw {
		s := min(100, r)
		total += m.weights[i] * s
		o.dims[i] = round1(s)
		if ex != nil && r > 0 {
			ex.scale[i] = m.weights[i] * s / r
		}
	}
	o.total = round1(min(100, max(0, total)))
	ex.finish()
	return o
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
