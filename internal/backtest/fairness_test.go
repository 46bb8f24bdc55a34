package backtest

import (
	"fmt"
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-4 }

// Wilson against published values: 0 of 10, 5 of 10, 81 of 263 (Newcombe 1998, example).
func TestWilson(t *testing.T) {
	for _, c := range []struct {
		k, n      int
		low, high float64
	}{{0, 10, 0, 0.2775}, {5, 10, 0.2366, 0.7634}, {81, 263, 0.2553, 0.3662}, {10, 10, 0.7225, 1}} {
		lo, hi := Wilson(c.k, c.n)
		if !near(lo, c.low) || !near(hi, c.high) {
			t.Errorf("Wilson(%d, %d) = %.4f–%.4f, want %.4f–%.4f", c.k, c.n, lo, hi, c.low, c.high)
		}
	}
}

// A small case worked by hand: area A has 20 households, 8 flagged; area B 20, 2 flagged;
// area C 5, 5 flagged (suppressed: under 10). Overall 15 of 45 = 1/3.
//   - A: 8/20 = 0.40, ratio 1.20 (inside 0.8–1.25);
//   - B: 2/20 = 0.10, ratio 0.30 (outside: listed first);
//   - C: suppressed, no counts.
//
// Outcomes on A's flagged: 6 confirmed, 2 not needed; on B's: 0 confirmed, 2 not needed; on C's:
// 5 confirmed. Overall confirmed 11 of 15 = 0.7333, so A's 6/8 = 0.75 has ratio 1.0227 and B's
// 0/2 has ratio 0 (outside).
func TestFairnessHandComputed(t *testing.T) {
	var subjects []Subject
	add := func(area string, n, flagged, confirmed, notNeeded int) {
		for i := range n {
			s := Subject{HouseholdID: fmt.Sprintf("%s%d", area, i), Area: area, Groups: map[string]string{"size": "1"}}
			if i < flagged {
				s.Flagged = true
				switch {
				case i < confirmed:
					s.Outcome.Finding = FindingConfirmed
				case i < confirmed+notNeeded:
					s.Outcome.Finding = FindingNotNeeded
				}
			}
			subjects = append(subjects, s)
		}
	}
	add("A", 20, 8, 6, 2)
	add("B", 20, 2, 0, 2)
	add("C", 5, 5, 5, 0)
	f := ComputeFairness(subjects, FairnessOptions{})
	if f.Households != 45 || f.Overall.Alert.Count != 15 || !near(f.Overall.Alert.Rate, 1.0/3) {
		t.Fatalf("overall: %d households, alert %+v", f.Households, f.Overall.Alert)
	}
	if !f.HasOutcomes || f.Overall.Confirmed.Count != 11 || f.Overall.Confirmed.Of != 15 || f.Overall.NotNeeded.Count != 4 {
		t.Fatalf("overall outcomes: %+v %+v", f.Overall.Confirmed, f.Overall.NotNeeded)
	}
	cells := map[string]Cell{}
	for _, c := range f.Cells {
		cells[c.Dimension+"="+c.Value] = c
	}
	if f.Cells[0].Dimension+"="+f.Cells[0].Value != "area=B" {
		t.Errorf("first cell %s=%s, want area=B (outside the bounds)", f.Cells[0].Dimension, f.Cells[0].Value)
	}
	a, b, c := cells["area=A"], cells["area=B"], cells["area=C"]
	if a.OutOfBounds || a.Households != 20 || a.Alert.Count != 8 || !near(a.Alert.Rate, 0.4) || !near(a.Alert.Ratio, 1.2) {
		t.Errorf("A: %+v alert %+v", a, a.Alert)
	}
	lo, hi := Wilson(8, 20)
	if !near(a.Alert.Low, lo) || !near(a.Alert.RatioLow, lo*3) || !near(a.Alert.RatioHigh, hi*3) || !near(lo, 0.2188) || !near(hi, 0.6134) {
		t.Errorf("A interval %.4f–%.4f, ratio %.4f–%.4f", a.Alert.Low, a.Alert.High, a.Alert.RatioLow, a.Alert.RatioHigh)
	}
	if !near(a.Confirmed.Rate, 0.75) || !near(a.Confirmed.Ratio, 0.75/(11.0/15)) || !near(a.NotNeeded.Rate, 0.25) {
		t.Errorf("A outcomes: confirmed %+v not needed %+v", a.Confirmed, a.NotNeeded)
	}
	if !b.OutOfBounds || !near(b.Alert.Ratio, 0.3) || b.Confirmed.Count != 0 || b.Confirmed.Of != 2 || !near(b.NotNeeded.Rate, 1) {
		t.Errorf("B: %+v alert %+v confirmed %+v", b, b.Alert, b.Confirmed)
	}
	if !c.Suppressed || c.Households != 0 || c.Alert != nil || c.Confirmed != nil {
		t.Errorf("C (5 households) not suppressed: %+v", c)
	}
	if s := cells["size=1"]; s.Households != 45 || !near(s.Alert.Ratio, 1) || s.OutOfBounds {
		t.Errorf("size=1 is every household: %+v", s)
	}

	// Tighter bounds bring A in; a smaller minimum cell shows C.
	f = ComputeFairness(subjects, FairnessOptions{Low: 0.9, High: 1.1, MinCell: 5})
	for _, c := range f.Cells {
		if c.Value == "A" && !c.OutOfBounds {
			t.Error("A (ratio 1.2) inside 0.9–1.1")
		}
		if c.Value == "C" && (c.Suppressed || c.Alert.Count != 5) {
			t.Errorf("C with minimum cell 5: %+v", c)
		}
	}
}

func TestFairnessWithoutOutcomes(t *testing.T) {
	var subjects []Subject
	for i := range 30 {
		subjects = append(subjects, Subject{HouseholdID: fmt.Sprint(i), Area: "X", Flagged: i%3 == 0})
	}
	f := ComputeFairness(subjects, FairnessOptions{})
	if f.HasOutcomes || f.Overall.Confirmed != nil || f.Cells[0].Confirmed != nil || f.Cells[0].Alert.Count != 10 {
		t.Errorf("without outcomes: %+v, cell %+v", f.Overall, f.Cells[0])
	}
	if err := (FairnessOptions{Low: 1.2}).Check(); err == nil {
		t.Error("low bound 1.2 accepted")
	}
}

// Precision and recall: 3 flagged confirmed, 1 flagged not needed, 2 confirmed not flagged;
// households without a finding do not count.
func TestPrecisionRecall(t *testing.T) {
	if s := PrecisionRecall(map[string]bool{"a": true}, nil); s.Available || s.Note != NoOutcomesNote {
		t.Errorf("no outcomes: %+v", s)
	}
	flagged := map[string]bool{"t1": true, "t2": true, "t3": true, "f1": true, "m1": false, "m2": false, "x": true, "n": false}
	outcomes := map[string]Outcome{"t1": {FindingConfirmed}, "t2": {FindingConfirmed}, "t3": {FindingConfirmed},
		"f1": {FindingNotNeeded}, "m1": {FindingConfirmed}, "m2": {FindingConfirmed}, "n": {FindingNotNeeded}, "bad": {"maybe"}}
	s := PrecisionRecall(flagged, outcomes)
	if !s.Available || s.Findings != 7 || s.TruePositives != 3 || s.FalsePositives != 1 || s.Missed != 2 || s.Confirmed != 5 {
		t.Fatalf("%+v", s)
	}
	if !near(s.Precision.Rate, 0.75) || !near(s.Recall.Rate, 0.6) {
		t.Errorf("precision %.4f recall %.4f, want 0.75 and 0.6", s.Precision.Rate, s.Recall.Rate)
	}
	lo, hi := Wilson(3, 4)
	if !near(s.Precision.Low, lo) || !near(s.Precision.High, hi) {
		t.Errorf("precision interval %+v", s.Precision)
	}
}
