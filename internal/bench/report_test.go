package bench

import (
	"strings"
	"testing"
	"time"
)

// The last-fifth row: a run whose polls saw both fifths gets the ratio and its verdict; a run
// too short for them (the quick bench) says it was not measured, where it printed a ratio of 0
// as met.
func TestFlatRowNeedsBothFifths(t *testing.T) {
	r := &benchReport{e2eDur: 1100 * time.Millisecond}
	row := flatRow(r)
	if row.verdict != "not measured" || !strings.Contains(row.value, "1.1s") {
		t.Errorf("a run with no fifths measured: %+v", row)
	}
	r.e2eEarly, r.e2eLate = 30*time.Microsecond, 36*time.Microsecond
	if row := flatRow(r); row.verdict != "met (0.92× the target)" || !strings.HasPrefix(row.value, "1.20 (36.0 / 30.0 µs") {
		t.Errorf("a run with both fifths: %+v", row)
	}
	r.e2eLate = 42 * time.Microsecond // 1.4
	if row := flatRow(r); !strings.HasPrefix(row.verdict, "MISSED") {
		t.Errorf("a ratio over the target: %+v", row)
	}
}
