package household

import (
	"encoding/json"
	"fmt"
	"safetynet/stream/feed"
	"slices"
	"strings"
	"time"

	"safetynet/scorer"
)

// Household state is a set of facts, not a sequence of updates. Each person keeps, per feed, the
// most recent facts by stamp (occurred_at, then event_id), and admissions are merged by
// admission id. Folding those facts in stamp order gives the scorer's view of the household, so
// the same set of events gives the same state whatever order they arrived in, and applying an
// event twice changes nothing.

// Per-feed caps on the facts kept for one person: the newest ones by stamp. Older facts no
// longer influence the fold (the newest registry, pension and disability fact decide; the
// employment history decides only how long the current unemployment spell has lasted).
const (
	keepRegistry   = 4
	keepEmployment = 8
	keepPension    = 4
	keepDisability = 4
	keepAdmissions = 24 // facts (admitted and discharged) per person
)

// Fact is one applied event, stripped of everything the fold does not need.
type Fact struct {
	At   time.Time `json:"at"`
	ID   string    `json:"id"`
	Type string    `json:"ty"`

	BirthDate       *time.Time `json:"bd,omitempty"`
	Sex             string     `json:"sx,omitempty"`
	Relation        string     `json:"rl,omitempty"`
	AreaCode        string     `json:"ar,omitempty"`
	AdmissionID     string     `json:"ad,omitempty"`
	ICD10           string     `json:"ic,omitempty"`
	CriticalIllness *bool      `json:"ci,omitempty"`
	TotalCost       *float64   `json:"tc,omitempty"`
	InsuredCost     *float64   `json:"ns,omitempty"`
	OutOfPocket     *float64   `json:"op,omitempty"`
	MonthlyAmount   *float64   `json:"ma,omitempty"`
	MonthlyWage     *float64   `json:"mw,omitempty"`
	Registered      *bool      `json:"rg,omitempty"`
	Grade           *int       `json:"gr,omitempty"`
	Kind            string     `json:"kd,omitempty"`
	AssetID         string     `json:"as,omitempty"` // assets
	Value           *float64   `json:"va,omitempty"`
	Balance         *float64   `json:"ba,omitempty"`
	Contribution    *float64   `json:"pf,omitempty"`
}

// stampOrder orders two stamps, event time then event id, as -1, 0 or 1: the order of a
// person's facts and of an application's.
func stampOrder(at time.Time, id string, bt time.Time, bid string) int {
	if c := at.Compare(bt); c != 0 {
		return c
	}
	return strings.Compare(id, bid)
}

// compareFacts orders facts by stamp (for the slices package).
func compareFacts(a, b Fact) int { return stampOrder(a.At, a.ID, b.At, b.ID) }

// before orders facts by stamp: event time, then event id.
func (f Fact) before(g Fact) bool { return compareFacts(f, g) < 0 }

// Person is what one household member's facts are, per feed, oldest first.
type Person struct {
	Masked     string `json:"m"`
	Registry   []Fact `json:"r,omitempty"`
	Employment []Fact `json:"e,omitempty"`
	Pension    []Fact `json:"p,omitempty"`
	Disability []Fact `json:"d,omitempty"`
	Hospital   []Fact `json:"h,omitempty"`
	Assets     []Fact `json:"a,omitempty"` // vehicle, property and business registrations
	Funds      []Fact `json:"f,omitempty"` // deposits reported, provident fund payments
}

// Household is a household's state: its facts and its alert episode.
type Household struct {
	ID        string             `json:"id"`
	Partition int                `json:"pt"`
	Persons   map[string]*Person `json:"persons"`

	// Alert episode state.
	Level      string    `json:"level,omitempty"`      // current level ("" for none)
	Score      float64   `json:"score"`                // total of the last assessment
	Episode    int       `json:"episode,omitempty"`    // number of the current or last episode
	Open       bool      `json:"open,omitempty"`       // an episode is open (raised, not resolved)
	Seq        int       `json:"seq,omitempty"`        // alerts published in the current episode
	BelowSince time.Time `json:"below_since,omitzero"` // open episode, level none since then
	NextCheck  time.Time `json:"next_check,omitzero"`  // timer: next re-assessment with no event
	AssessedAt time.Time `json:"assessed_at,omitzero"` // time of the last assessment
	Updated    time.Time `json:"updated_at,omitzero"`  // latest event time applied
	// ModelVersion is the version of the model the level and score were assessed with ("" for
	// state written before it was recorded).
	ModelVersion string     `json:"model_version,omitempty"`
	Alerts       []AlertRef `json:"alerts,omitempty"` // newest last, capped
	// Casework is the household's cases, snooze and aid (cases.go); nil until a case opens.
	Casework *Casework `json:"casework,omitempty"`
	// Declarations is the household's applications, verifications and confirmed false
	// declarations (declare.go); nil until its first application.
	Declarations *Declarations `json:"declarations,omitempty"`
}

// AlertRef is a household's alert history entry.
type AlertRef struct {
	AlertID   string    `json:"alert_id"`
	Status    string    `json:"status"`
	Level     string    `json:"level"`
	Score     float64   `json:"score"`
	EmittedAt time.Time `json:"emitted_at"`
}

const keepAlertRefs = 50

// NewHousehold returns an empty household.
func New(id string, partition int) *Household {
	return &Household{ID: id, Partition: partition, Persons: map[string]*Person{}}
}

// factOf strips an event to its fact.
func factOf(e *feed.HouseholdEvent) Fact {
	f := Fact{
		At: e.OccurredAt.UTC(), ID: e.EventID, Type: e.Type,
		BirthDate: e.BirthDate, Sex: e.Sex, Relation: e.Relation, AreaCode: e.AreaCode,
		AdmissionID: e.AdmissionID, ICD10: e.ICD10, CriticalIllness: e.CriticalIllness,
		TotalCost: e.TotalCost, InsuredCost: e.InsuredCost, OutOfPocket: e.OutOfPocket,
		MonthlyAmount: e.MonthlyAmount, MonthlyWage: e.MonthlyWage, Registered: e.Registered,
		Grade: e.Grade, Kind: e.Kind,
		AssetID: e.AssetID, Value: e.Value, Balance: e.Balance, Contribution: e.MonthlyContribution,
	}
	if f.BirthDate != nil { // intake keeps the birth month only; so does state, whatever it is sent
		bm := feed.BirthMonth(*f.BirthDate)
		f.BirthDate = &bm
	}
	return f
}

// Apply adds the event's fact to the household and reports whether the state changed: false
// for an event already applied (same feed, event id and time) or one too old to matter.
func (h *Household) Apply(e *feed.HouseholdEvent) (bool, error) {
	if e.PersonKey == "" {
		return false, fmt.Errorf("event %s: no person key", e.EventID)
	}
	if e.Feed == feed.Applications {
		return h.applyApplication(e)
	}
	p := h.Persons[e.PersonKey]
	if p == nil {
		p = &Person{}
	}
	f := factOf(e)
	var list *[]Fact
	var keep int
	switch e.Feed {
	case feed.Registry:
		list, keep = &p.Registry, keepRegistry
	case feed.Employment:
		list, keep = &p.Employment, keepEmployment
	case feed.Pension:
		list, keep = &p.Pension, keepPension
	case feed.Disability:
		list, keep = &p.Disability, keepDisability
	case feed.Hospital:
		list, keep = &p.Hospital, keepAdmissions
	case feed.Assets:
		list, keep = &p.Assets, keepAssets
		if e.Type == feed.DepositsReported || e.Type == feed.ProvidentFundPaid {
			list, keep = &p.Funds, keepFunds
		}
	default:
		return false, fmt.Errorf("event %s: unknown feed %q", e.EventID, e.Feed)
	}
	if !insertFact(list, f, keep) {
		return false, nil
	}
	if e.PersonMasked != "" {
		p.Masked = e.PersonMasked
	}
	h.Persons[e.PersonKey] = p
	if f.At.After(h.Updated) {
		h.Updated = f.At
	}
	return true, nil
}

// insertFact keeps list sorted oldest first, without duplicates, and at most keep long (the
// newest). It reports whether the list changed. The result depends only on the set of facts
// inserted, not on their order.
func insertFact(list *[]Fact, f Fact, keep int) bool {
	l := *list
	i, found := slices.BinarySearchFunc(l, f, compareFacts)
	if found {
		return false
	}
	if len(l) >= keep && i == 0 {
		return false // older than everything kept, and there is no room
	}
	if len(l) == keep {
		// Full: the oldest fact goes and the new one takes its place in order, in the list's
		// own array (a decoded list's capacity is its length, so an insert would copy it).
		copy(l[:i-1], l[1:i])
		l[i-1] = f
		return true
	}
	if len(l) == cap(l) {
		// A decoded list's capacity is its length: it grows by the one fact, where an insert
		// would double its array (a decoded household lives for one batch, and is encoded at
		// its end).
		grown := make([]Fact, len(l)+1)
		copy(grown, l[:i])
		grown[i] = f
		copy(grown[i+1:], l[i:])
		l = grown
	} else {
		l = slices.Insert(l, i, f)
	}
	if len(l) > keep {
		l = l[len(l)-keep:]
	}
	*list = l
	return true
}

// Scorer folds the household's facts into the model's view. Persons whose newest registry
// fact says they left, and persons the registry never named, are not members.
func (h *Household) Scorer() scorer.Household {
	out := scorer.Household{ID: h.ID, Members: make([]scorer.Member, 0, len(h.Persons))}
	var small [8]string // most households: the keys' slice stays on the stack
	keys := small[:0]
	for k := range h.Persons {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := h.Persons[k]
		m, ok := p.member(k)
		if ok {
			out.Members = append(out.Members, m)
		}
	}
	return out
}

// AreaCode is the household's area: that of its head's latest registry fact that names one,
// else of any member's (the newest such fact); "" when no registry fact names one.
func (h *Household) AreaCode() string {
	var head, any Fact
	for _, p := range h.Persons {
		isHead := false
		var area Fact
		for _, f := range p.Registry { // oldest first
			if f.Relation != "" {
				isHead = f.Relation == "head"
			}
			if f.AreaCode != "" {
				area = f
			}
		}
		if area.AreaCode == "" {
			continue
		}
		if isHead && (head.AreaCode == "" || head.before(area)) {
			head = area
		}
		if any.AreaCode == "" || any.before(area) {
			any = area
		}
	}
	if head.AreaCode != "" {
		return head.AreaCode
	}
	return any.AreaCode
}

func (p *Person) member(key string) (scorer.Member, bool) {
	m := scorer.Member{Key: key, Masked: p.Masked}
	member := false
	for _, f := range p.Registry { // oldest first: later facts win
		switch f.Type {
		case "member_joined":
			member = true
		case "member_left":
			member = false
		case "died":
			member = true
			at := f.At
			m.Died = &at
		}
		if f.BirthDate != nil {
			m.BirthDate = *f.BirthDate
		}
		if f.Sex != "" {
			m.Sex = f.Sex
		}
		if f.Relation != "" {
			m.Relation = f.Relation
		}
	}
	if !member {
		return m, false
	}
	m.Employment = foldEmployment(p.Employment)
	m.Pension = foldPension(p.Pension)
	m.Disability = foldDisability(p.Disability)
	m.Admissions = foldAdmissions(p.Hospital)
	return m, true
}

func foldEmployment(facts []Fact) *scorer.Employment {
	if len(facts) == 0 {
		return nil
	}
	last := facts[len(facts)-1]
	if last.Type == "employed" {
		e := &scorer.Employment{Employed: true, Since: last.At}
		if last.MonthlyWage != nil {
			e.MonthlyWage = *last.MonthlyWage
		}
		return e
	}
	// Unemployed: the spell began at the first unemployed fact after the last employed one.
	since := last.At
	for i := len(facts) - 1; i >= 0 && facts[i].Type == "unemployed"; i-- {
		since = facts[i].At
	}
	e := &scorer.Employment{Since: since}
	if last.Registered != nil {
		e.Registered = *last.Registered
	}
	return e
}

func foldPension(facts []Fact) *scorer.Pension {
	if len(facts) == 0 {
		return nil
	}
	var p scorer.Pension
	for _, f := range facts {
		if f.MonthlyAmount != nil {
			p.MonthlyAmount = *f.MonthlyAmount
		}
		switch f.Type {
		case "started", "changed":
			p.Status = scorer.PensionActive
		case "suspended":
			p.Status = scorer.PensionSuspended
		case "stopped":
			p.Status = scorer.PensionStopped
		}
		p.Since = f.At
	}
	return &p
}

func foldDisability(facts []Fact) *scorer.Disability {
	if len(facts) == 0 {
		return nil
	}
	var d scorer.Disability
	for _, f := range facts {
		switch f.Type {
		case "registered", "changed":
			if f.Grade != nil && (d.Revoked || d.Grade == 0 || *f.Grade != d.Grade) {
				d.Since = f.At
				d.Grade = *f.Grade
			}
			d.Revoked = false
			if f.Kind != "" {
				d.Kind = f.Kind
			}
		case "revoked":
			d.Revoked = true
			d.Since = f.At
		}
	}
	if d.Grade == 0 && !d.Revoked {
		return nil
	}
	return &d
}

func foldAdmissions(facts []Fact) []scorer.Admission {
	if len(facts) == 0 {
		return nil
	}
	var out []scorer.Admission
	index := map[string]int{}
	for _, f := range facts {
		id := f.AdmissionID
		if id == "" {
			id = f.ID
		}
		i, ok := index[id]
		if !ok {
			i = len(out)
			index[id] = i
			out = append(out, scorer.Admission{ID: id, Admitted: f.At})
		}
		a := &out[i]
		switch f.Type {
		case "admitted":
			a.Admitted = f.At
		case "discharged":
			at := f.At
			a.Discharged = &at
			if a.Admitted.After(at) {
				a.Admitted = at
			}
		}
		if f.ICD10 != "" {
			a.ICD10 = f.ICD10
		}
		if f.CriticalIllness != nil && *f.CriticalIllness {
			a.CriticalIllness = true
		}
		if f.TotalCost != nil {
			a.TotalCost = *f.TotalCost
		}
		if f.InsuredCost != nil {
			a.InsuredCost = *f.InsuredCost
		}
		if f.OutOfPocket != nil {
			a.OutOfPocket = *f.OutOfPocket
		}
	}
	return out
}

// addAlertRef appends to the capped history.
// AddAlertRef records an alert in the household's history, keeping the newest.
func (h *Household) AddAlertRef(r AlertRef) {
	h.Alerts = append(h.Alerts, r)
	if len(h.Alerts) > keepAlertRefs {
		h.Alerts = slices.Clone(h.Alerts[len(h.Alerts)-keepAlertRefs:])
	}
}

// LevelLabelNone is how a household with no level is shown in every output: metrics,
// statistics, the API and the alert topic (levels_json.go).
const LevelLabelNone = "none"

// LevelLabel is the metric label of a level.
func LevelLabel(level string) string {
	if level == "" {
		return LevelLabelNone
	}
	return strings.ToLower(level)
}

// CanonicalJSON returns a stored household's state without what depends on when things ran
// (assessment and emission times): two runs over the same events give the same bytes.
func CanonicalJSON(stored []byte) ([]byte, error) {
	h, err := Decode(stored)
	if err != nil {
		return nil, err
	}
	h.AssessedAt = time.Time{}
	for i := range h.Alerts {
		h.Alerts[i].EmittedAt = time.Time{}
	}
	h.Casework.canonical()
	return json.Marshal(h)
}
