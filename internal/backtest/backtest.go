// Package backtest answers "what would this model change?" before a model file ships: it
// re-assesses every stored household under a baseline model and a candidate model at one instant
// and reports the levels, the transitions, the households that change with the reasons that
// differ, breakdowns by area and by group, a fairness section (alert rates per area and group
// with Wilson intervals, small cells suppressed) and, where casework outcomes exist, precision
// and recall. It reads state (a read-only state directory, or the changelog topic) and never
// writes to it. docs/model.md explains how to read the report.
package backtest

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"safetynet/scorer"
	"safetynet/stream/household"
)

// Source yields every stored household: its id and its stored value (household codec). A
// read-only *state.Store is one; Changelog is another.
type Source interface {
	Households(fn func(id string, value []byte) error) error
}

// Options of a backtest. Zero values take the defaults noted.
type Options struct {
	Baseline, Model *scorer.Model
	// At is the instant both models assess at (default: now).
	At time.Time
	// AreaPrefix is how many leading characters of the area code make an area (default 6; 0 or
	// more than the code's length: the whole code).
	AreaPrefix int
	// Fairness bounds and minimum cell size (defaults 0.8–1.25 and 10).
	Fairness FairnessOptions
	// Outcomes are caseworkers' findings by household id; nil when there are none.
	Outcomes map[string]Outcome
	// Progress, when set, is called now and then with the households done so far.
	Progress func(done int)
	// MaxChanges caps the list of changes in the report (default 0: all).
	MaxChanges int
}

// Report is report.json.
type Report struct {
	At              time.Time `json:"at"`
	BaselineVersion string    `json:"baseline_version"`
	ModelVersion    string    `json:"model_version"`
	Households      int       `json:"households"`
	// Changed is how many households change level between the baseline and the model.
	Changed int `json:"changed"`
	// ByLevel counts households per level ("none" for no level) under "baseline" and "model".
	ByLevel map[string]map[string]int `json:"by_level"`
	// Transitions[from][to] counts households by baseline level and model level.
	Transitions map[string]map[string]int `json:"transitions"`
	// Changes are the households that change level, the biggest change first.
	Changes []Change `json:"changes"`
	// ChangesOmitted is how many changes were left out of Changes by MaxChanges.
	ChangesOmitted int `json:"changes_omitted,omitempty"`
	// ByArea and ByGroup break the levels and changes down (cells under the minimum suppressed).
	ByArea  []Breakdown `json:"by_area"`
	ByGroup []Breakdown `json:"by_group"`
	// Fairness is the candidate model's fairness section.
	Fairness *Fairness `json:"fairness"`
	// Outcomes is precision and recall against casework findings, or why there are none.
	Outcomes OutcomeStats `json:"outcomes"`
	// Replay is the alerts per week of a replay over time (-replay-from), nil without one.
	Replay *Replay `json:"replay,omitempty"`
}

// Change is one household whose level differs between the two models.
type Change struct {
	HouseholdID   string       `json:"household_id"`
	Area          string       `json:"area,omitempty"`
	From          string       `json:"from"` // baseline level, "none" for none
	To            string       `json:"to"`
	BaselineScore float64      `json:"baseline_score"`
	ModelScore    float64      `json:"model_score"`
	Reasons       []ReasonDiff `json:"reasons"` // the reasons whose contribution differs
}

// ReasonDiff is a reason whose contribution to the total differs between the two models (0 on
// the side where it does not apply).
type ReasonDiff struct {
	Code     string  `json:"code"`
	EN       string  `json:"en"`
	ZH       string  `json:"zh"`
	Baseline float64 `json:"baseline"`
	Model    float64 `json:"model"`
}

// Breakdown is one cell of a breakdown: an area, or a group's value.
type Breakdown struct {
	Dimension  string `json:"dimension"` // "area", "head_age", "head_sex", "size", "disability", "aid"
	Value      string `json:"value"`
	Households int    `json:"households"` // 0 when suppressed
	Suppressed bool   `json:"suppressed,omitempty"`
	Baseline   int    `json:"baseline_at_level"` // households at any level under the baseline
	Model      int    `json:"model_at_level"`
	Up         int    `json:"up"`   // level rises under the model
	Down       int    `json:"down"` // level falls
}

// unit is one household as the reports see it: no facts, only what is counted.
type unit struct {
	id       string
	area     string
	groups   [len(groupDims)]string
	baseline string // level under the baseline ("" none)
	model    string
}

// Run re-assesses every household of src under both models and builds the report.
func Run(src Source, opts Options) (*Report, error) {
	if opts.Model == nil || opts.Baseline == nil {
		return nil, fmt.Errorf("backtest: a model and a baseline are required")
	}
	at := opts.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	var units []unit
	var changes []Change
	err := src.Households(func(id string, v []byte) error {
		h, err := household.Decode(v)
		if err != nil {
			return fmt.Errorf("household %s: %w", id, err)
		}
		sh := h.Scorer()
		// Both models classify from the stored level, as the running service would on its
		// next assessment (hysteresis keeps a household in a band it is already in).
		ab := scorer.Assess(opts.Baseline, sh, at)
		am := scorer.Assess(opts.Model, sh, at)
		u := unit{id: h.ID, area: areaOf(h.AreaCode(), opts.AreaPrefix),
			baseline: opts.Baseline.Classify(ab, h.Level), model: opts.Model.Classify(am, h.Level)}
		u.groups = groupsOf(sh, at)
		units = append(units, u)
		if u.baseline != u.model {
			changes = append(changes, Change{HouseholdID: h.ID, Area: u.area,
				From: household.LevelLabel(u.baseline), To: household.LevelLabel(u.model),
				BaselineScore: ab.Total, ModelScore: am.Total, Reasons: reasonDiff(ab, am)})
		}
		if opts.Progress != nil && len(units)%1000 == 0 {
			opts.Progress(len(units))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if opts.Progress != nil {
		opts.Progress(len(units))
	}
	r := &Report{At: at, BaselineVersion: opts.Baseline.Version, ModelVersion: opts.Model.Version,
		Households: len(units), Changed: len(changes),
		ByLevel: map[string]map[string]int{"baseline": levelCounts(), "model": levelCounts()}, Transitions: map[string]map[string]int{}}
	for _, l := range LevelLabels {
		r.Transitions[l] = levelCounts()
	}
	for _, u := range units {
		b, m := household.LevelLabel(u.baseline), household.LevelLabel(u.model)
		r.ByLevel["baseline"][b]++
		r.ByLevel["model"][m]++
		r.Transitions[b][m]++
	}
	sortChanges(changes)
	r.Changes = changes
	if opts.MaxChanges > 0 && len(changes) > opts.MaxChanges {
		r.Changes, r.ChangesOmitted = changes[:opts.MaxChanges], len(changes)-opts.MaxChanges
	}
	fo := opts.Fairness.withDefaults()
	r.ByArea, r.ByGroup = breakdowns(units, fo.MinCell)
	subjects := make([]Subject, len(units))
	flagged := map[string]bool{}
	for i, u := range units {
		subjects[i] = Subject{HouseholdID: u.id, Area: u.area, Groups: u.groupMap(), Flagged: u.model != ""}
		if o, ok := opts.Outcomes[u.id]; ok {
			subjects[i].Outcome = o
		}
		flagged[u.id] = u.model != ""
	}
	r.Fairness = ComputeFairness(subjects, fo)
	r.Fairness.ModelVersion = opts.Model.Version
	r.Outcomes = PrecisionRecall(flagged, opts.Outcomes)
	return r, nil
}

// LevelLabels are the levels of the report in rank order, "none" first.
var LevelLabels = []string{household.LevelLabelNone, scorer.LevelWatch, scorer.LevelWarning, scorer.LevelUrgent}

func levelCounts() map[string]int {
	m := make(map[string]int, len(LevelLabels))
	for _, l := range LevelLabels {
		m[l] = 0
	}
	return m
}

func rank(label string) int {
	if label == household.LevelLabelNone {
		return 0
	}
	return scorer.LevelRank(label)
}

// sortChanges puts the biggest change first: the largest jump in level, then the largest change
// of score, then by household id.
func sortChanges(cs []Change) {
	slices.SortFunc(cs, func(a, b Change) int {
		ja, jb := abs(rank(a.To)-rank(a.From)), abs(rank(b.To)-rank(b.From))
		if c := cmp.Compare(jb, ja); c != 0 {
			return c
		}
		da, db := math.Abs(a.ModelScore-a.BaselineScore), math.Abs(b.ModelScore-b.BaselineScore)
		if c := cmp.Compare(db, da); c != 0 {
			return c
		}
		return cmp.Compare(a.HouseholdID, b.HouseholdID)
	})
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// reasonDiff lists the reasons whose contribution to the total differs, largest difference first.
func reasonDiff(a, b scorer.Assessment) []ReasonDiff {
	byCode := map[string]*ReasonDiff{}
	var order []string
	add := func(r scorer.Reason, model bool) {
		d := byCode[r.Code]
		if d == nil {
			d = &ReasonDiff{Code: r.Code, EN: r.EN, ZH: r.ZH}
			byCode[r.Code] = d
			order = append(order, r.Code)
		}
		if model {
			d.Model += r.Contribution
			d.EN, d.ZH = r.EN, r.ZH
		} else {
			d.Baseline += r.Contribution
		}
	}
	for _, r := range a.Reasons {
		add(r, false)
	}
	for _, r := range b.Reasons {
		add(r, true)
	}
	var out []ReasonDiff
	for _, c := range order {
		d := byCode[c]
		// Triggers contribute 0 to the total: a trigger present on one side only differs.
		onlyOne := (slices.ContainsFunc(a.Reasons, func(r scorer.Reason) bool { return r.Code == c }) !=
			slices.ContainsFunc(b.Reasons, func(r scorer.Reason) bool { return r.Code == c }))
		if math.Abs(d.Model-d.Baseline) >= 0.05 || onlyOne {
			d.Baseline, d.Model = round1(d.Baseline), round1(d.Model)
			out = append(out, *d)
		}
	}
	slices.SortStableFunc(out, func(x, y ReasonDiff) int {
		return cmp.Compare(math.Abs(y.Model-y.Baseline), math.Abs(x.Model-x.Baseline))
	})
	return out
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// areaOf is the area of a household at the prefix length: "unknown" when the state has none.
func areaOf(code string, prefix int) string {
	if code == "" {
		return "unknown"
	}
	if prefix <= 0 {
		prefix = 6
	}
	if prefix < len(code) {
		return code[:prefix]
	}
	return code
}

// The group dimensions, in report order.
var groupDims = [...]string{"head_age", "head_sex", "size", "disability", "aid"}

// groupsOf places a household in one value of each group dimension, from the facts at at:
// the head's age band and sex, the number of living members, whether a living member has a
// registered disability, and whether it receives aid the feeds carry (an active pension or
// registered unemployment, which brings unemployment benefit). Minimum-living-standard (低保)
// receipt itself is not in the feeds.
func groupsOf(h scorer.Household, at time.Time) [len(groupDims)]string {
	var g [len(groupDims)]string
	g[0], g[1] = "unknown", "unknown"
	living, disabled, aid := 0, false, false
	var head *scorer.Member
	for i := range h.Members {
		m := &h.Members[i]
		if m.Died != nil && !m.Died.After(at) {
			continue
		}
		living++
		if head == nil || m.Relation == "head" && head.Relation != "head" {
			head = m
		}
		if d := m.Disability; d != nil && !d.Revoked && d.Grade >= 1 && d.Grade <= 4 && !d.Since.After(at) {
			disabled = true
		}
		if p := m.Pension; p != nil && p.Status == scorer.PensionActive && p.MonthlyAmount > 0 {
			aid = true
		}
		if e := m.Employment; e != nil && !e.Employed && e.Registered {
			aid = true
		}
	}
	if head != nil {
		if !head.BirthDate.IsZero() {
			g[0] = ageBand(ageAt(head.BirthDate, at))
		}
		switch head.Sex {
		case "M", "F":
			g[1] = head.Sex
		}
	}
	switch {
	case living >= 5:
		g[2] = "5+"
	default:
		g[2] = fmt.Sprint(living)
	}
	g[3], g[4] = yesNo(disabled), yesNo(aid)
	return g
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func ageAt(birth, at time.Time) int {
	y := at.Year() - birth.Year()
	if at.YearDay() < birth.YearDay() {
		y--
	}
	return y
}

func ageBand(age int) string {
	switch {
	case age < 30:
		return "<30"
	case age < 45:
		return "30-44"
	case age < 60:
		return "45-59"
	case age < 75:
		return "60-74"
	}
	return "75+"
}

func (u unit) groupMap() map[string]string {
	m := make(map[string]string, len(groupDims))
	for i, d := range groupDims {
		m[d] = u.groups[i]
	}
	return m
}

// breakdowns counts levels and changes per area and per group value.
func breakdowns(units []unit, minCell int) (byArea, byGroup []Breakdown) {
	cells := map[[2]string]*Breakdown{}
	var keys [][2]string
	count := func(dim, val string, u unit) {
		k := [2]string{dim, val}
		c := cells[k]
		if c == nil {
			c = &Breakdown{Dimension: dim, Value: val}
			cells[k] = c
			keys = append(keys, k)
		}
		c.Households++
		if u.baseline != "" {
			c.Baseline++
		}
		if u.model != "" {
			c.Model++
		}
		switch rb, rm := scorer.LevelRank(u.baseline), scorer.LevelRank(u.model); {
		case rm > rb:
			c.Up++
		case rm < rb:
			c.Down++
		}
	}
	for _, u := range units {
		count("area", u.area, u)
		for i, d := range groupDims {
			count(d, u.groups[i], u)
		}
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if a[0] != b[0] {
			return cmp.Compare(dimOrder(a[0]), dimOrder(b[0]))
		}
		return cmp.Compare(a[1], b[1])
	})
	for _, k := range keys {
		c := *cells[k]
		if c.Households < minCell {
			c = Breakdown{Dimension: c.Dimension, Value: c.Value, Suppressed: true}
		}
		if k[0] == "area" {
			byArea = append(byArea, c)
		} else {
			byGroup = append(byGroup, c)
		}
	}
	return byArea, byGroup
}

func dimOrder(d string) int {
	if d == "area" {
		return -1
	}
	return slices.Index(groupDims[:], d)
}
