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

// Outcome is a caseworker's finding on a household the model flagged (or that was referred
// otherwise): whether help was needed.
type Outcome struct {
	// Finding is "confirmed" (help was needed) or "not_needed".
	Finding string `json:"finding"`
}

// Findings.
const (
	FindingConfirmed = "confirmed"
	FindingNotNeeded = "not_needed"
)

// Subject is one household as the fairness report counts it.
type Subject struct {
	HouseholdID string
	Area        string
	Groups      map[string]string // dimension → value (see groupDims)
	Flagged     bool              // at a level
	Outcome     Outcome           // zero when there is no finding
}

// FairnessOptions bound the ratios and the cells.
type FairnessOptions struct {
	// Low and High bound a cell's ratio to the overall rate (default 0.8 and 1.25): cells
	// outside are listed first.
	Low, High float64
	// MinCell is the smallest cell reported (default 10); smaller cells are suppressed.
	MinCell int
}

func (o FairnessOptions) withDefaults() FairnessOptions {
	if o.Low == 0 {
		o.Low = 0.8
	}
	if o.High == 0 {
		o.High = 1.25
	}
	if o.MinCell == 0 {
		o.MinCell = 10
	}
	return o
}

// Check names the option that is wrong.
func (o FairnessOptions) Check() error {
	o = o.withDefaults()
	switch {
	case o.Low <= 0 || o.Low >= 1:
		return fmt.Errorf("fairness low bound %g: must be between 0 and 1", o.Low)
	case o.High <= 1:
		return fmt.Errorf("fairness high bound %g: must be above 1", o.High)
	case o.MinCell < 1:
		return fmt.Errorf("fairness minimum cell %d: must be at least 1", o.MinCell)
	}
	return nil
}

// Rate is a proportion with its 95 % Wilson interval and its ratio to the overall proportion.
type Rate struct {
	Count int     `json:"count"` // numerator
	Of    int     `json:"of"`    // denominator
	Rate  float64 `json:"rate"`
	Low   float64 `json:"low"`  // Wilson 95 % interval
	High  float64 `json:"high"` //
	// Ratio is Rate over the overall rate (0 when the overall rate is 0); RatioLow and
	// RatioHigh are the interval's ends over the overall rate.
	Ratio     float64 `json:"ratio"`
	RatioLow  float64 `json:"ratio_low"`
	RatioHigh float64 `json:"ratio_high"`
}

// Cell is one area or group value.
type Cell struct {
	Dimension  string `json:"dimension"`
	Value      string `json:"value"`
	Households int    `json:"households"` // 0 when suppressed
	Suppressed bool   `json:"suppressed,omitempty"`
	// Alert is the share of the cell's households at a level.
	Alert *Rate `json:"alert,omitempty"`
	// Confirmed and NotNeeded are, among the cell's flagged households with a finding, the
	// shares confirmed and not needed; nil when there are no outcomes.
	Confirmed *Rate `json:"confirmed,omitempty"`
	NotNeeded *Rate `json:"not_needed,omitempty"`
	// OutOfBounds: a ratio lies outside the bounds.
	OutOfBounds bool `json:"out_of_bounds,omitempty"`
}

// Fairness is the fairness report.
type Fairness struct {
	ModelVersion string  `json:"model_version,omitempty"`
	Households   int     `json:"households"`
	Low          float64 `json:"low"`
	High         float64 `json:"high"`
	MinCell      int     `json:"min_cell"`
	Overall      Cell    `json:"overall"`
	HasOutcomes  bool    `json:"has_outcomes"`
	// Cells: those outside the bounds first, then by dimension and value. Suppressed cells carry
	// no counts.
	Cells []Cell `json:"cells"`
}

// ComputeFairness computes alert, confirmation and not-needed rates per area and per group value.
func ComputeFairness(subjects []Subject, opts FairnessOptions) *Fairness {
	opts = opts.withDefaults()
	type tally struct{ n, flagged, withOutcome, confirmed, notNeeded int }
	add := func(t *tally, s Subject) {
		t.n++
		if s.Flagged {
			t.flagged++
			switch s.Outcome.Finding {
			case FindingConfirmed:
				t.withOutcome++
				t.confirmed++
			case FindingNotNeeded:
				t.withOutcome++
				t.notNeeded++
			}
		}
	}
	var all tally
	cells := map[[2]string]*tally{}
	var keys [][2]string
	for _, s := range subjects {
		add(&all, s)
		dims := [][2]string{{"area", s.Area}}
		for _, d := range groupDims {
			if v, ok := s.Groups[d]; ok {
				dims = append(dims, [2]string{d, v})
			}
		}
		for _, k := range dims {
			t := cells[k]
			if t == nil {
				t = &tally{}
				cells[k] = t
				keys = append(keys, k)
			}
			add(t, s)
		}
	}
	f := &Fairness{Households: all.n, Low: opts.Low, High: opts.High, MinCell: opts.MinCell, HasOutcomes: all.withOutcome > 0}
	overall := func(t tally) Cell {
		c := Cell{Dimension: "all", Value: "all", Households: t.n, Alert: rate(t.flagged, t.n, 0)}
		if f.HasOutcomes {
			c.Confirmed, c.NotNeeded = rate(t.confirmed, t.withOutcome, 0), rate(t.notNeeded, t.withOutcome, 0)
		}
		return c
	}
	f.Overall = overall(all)
	for _, k := range keys {
		t := cells[k]
		if t.n < opts.MinCell {
			f.Cells = append(f.Cells, Cell{Dimension: k[0], Value: k[1], Suppressed: true})
			continue
		}
		c := Cell{Dimension: k[0], Value: k[1], Households: t.n, Alert: rate(t.flagged, t.n, f.Overall.Alert.Rate)}
		if f.HasOutcomes {
			c.Confirmed = rate(t.confirmed, t.withOutcome, f.Overall.Confirmed.Rate)
			c.NotNeeded = rate(t.notNeeded, t.withOutcome, f.Overall.NotNeeded.Rate)
		}
		for _, r := range []*Rate{c.Alert, c.Confirmed, c.NotNeeded} {
			if r != nil && r.Of > 0 && (r.Ratio < opts.Low || r.Ratio > opts.High) {
				c.OutOfBounds = true
			}
		}
		f.Cells = append(f.Cells, c)
	}
	slices.SortStableFunc(f.Cells, func(a, b Cell) int {
		if a.OutOfBounds != b.OutOfBounds {
			if a.OutOfBounds {
				return -1
			}
			return 1
		}
		if a.Dimension != b.Dimension {
			return cmp.Compare(dimOrder(a.Dimension), dimOrder(b.Dimension))
		}
		return cmp.Compare(a.Value, b.Value)
	})
	return f
}

// rate is k of n with its Wilson interval, and its ratio to overall (when overall > 0).
func rate(k, n int, overall float64) *Rate {
	r := &Rate{Count: k, Of: n}
	if n == 0 {
		return r
	}
	r.Rate = float64(k) / float64(n)
	r.Low, r.High = Wilson(k, n)
	if overall > 0 {
		r.Ratio, r.RatioLow, r.RatioHigh = r.Rate/overall, r.Low/overall, r.High/overall
	}
	return r
}

// Wilson is the 95 % Wilson score interval of k successes in n trials.
func Wilson(k, n int) (low, high float64) {
	if n == 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	p, fn := float64(k)/float64(n), float64(n)
	d := 1 + z*z/fn
	centre := (p + z*z/(2*fn)) / d
	half := z / d * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn))
	return max(0, centre-half), min(1, centre+half)
}

// OutcomeStats is precision and recall against caseworkers' findings.
type OutcomeStats struct {
	// Available is false when the state holds no casework outcomes; Note then says so.
	Available bool   `json:"available"`
	Note      string `json:"note,omitempty"`
	// Findings is how many households have a finding; Confirmed how many of them needed help.
	Findings  int `json:"findings,omitempty"`
	Confirmed int `json:"confirmed,omitempty"`
	// TruePositives: flagged and confirmed; FalsePositives: flagged and not needed; Missed:
	// confirmed but not flagged.
	TruePositives  int `json:"true_positives,omitempty"`
	FalsePositives int `json:"false_positives,omitempty"`
	Missed         int `json:"missed,omitempty"`
	// Precision is TP / (TP + FP) with its Wilson interval; Recall TP / (TP + missed).
	Precision *Rate `json:"precision,omitempty"`
	Recall    *Rate `json:"recall,omitempty"`
}

// NoOutcomesNote is what the report says when the state has no casework outcomes.
const NoOutcomesNote = "no casework outcomes in this state (无个案核查结果)"

// PrecisionRecall compares the flagged households (household id → at a level) with the
// findings. Households with no finding are not counted: recall is over the confirmed households
// caseworkers saw, which is itself a selection (mostly households the model flagged).
func PrecisionRecall(flagged map[string]bool, outcomes map[string]Outcome) OutcomeStats {
	var s OutcomeStats
	for id, o := range outcomes {
		if o.Finding != FindingConfirmed && o.Finding != FindingNotNeeded {
			continue
		}
		s.Findings++
		f := flagged[id]
		switch {
		case o.Finding == FindingConfirmed && f:
			s.Confirmed++
			s.TruePositives++
		case o.Finding == FindingConfirmed:
			s.Confirmed++
			s.Missed++
		case f:
			s.FalsePositives++
		}
	}
	if s.Findings == 0 {
		return OutcomeStats{Note: NoOutcomesNote}
	}
	s.Available = true
	s.Precision = rate(s.TruePositives, s.TruePositives+s.FalsePositives, 0)
	s.Recall = rate(s.TruePositives, s.TruePositives+s.Missed, 0)
	return s
}

// SubjectOf is a stored household as the fairness report counts it: flagged when its stored
// level is set, placed in its area (at the prefix length) and its groups at the instant at.
func SubjectOf(h *household.Household, at time.Time, areaPrefix int) Subject {
	u := unit{id: h.ID, area: areaOf(h.AreaCode(), areaPrefix), groups: groupsOf(h.Scorer(), at)}
	return Subject{HouseholdID: h.ID, Area: u.area, Groups: u.groupMap(), Flagged: h.Level != ""}
}

// Subjects reads every household of src as the fairness report counts it (SubjectOf). With a
// model, a household is flagged when the model, re-assessing it at at from its stored level,
// puts it at a level; without one, when its stored level is set. progress, when set, is called
// now and then with the households read so far.
func Subjects(src Source, m *scorer.Model, at time.Time, areaPrefix int, progress func(done int)) ([]Subject, error) {
	var subjects []Subject
	err := src.Households(func(id string, v []byte) error {
		h, err := household.Decode(v)
		if err != nil {
			return fmt.Errorf("household %s: %w", id, err)
		}
		s := SubjectOf(h, at, areaPrefix)
		if m != nil {
			s.Flagged = m.Classify(scorer.Score(m, h.Scorer(), at), h.Level) != ""
		}
		subjects = append(subjects, s)
		if progress != nil && len(subjects)%1000 == 0 {
			progress(len(subjects))
		}
		return nil
	})
	return subjects, err
}
