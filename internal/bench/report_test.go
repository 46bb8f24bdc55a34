package bench

import (
	"strings"
	"testing"
	"time"

	"safetynet/state"
)

// The flatness rows: a run whose polls saw both fifths gets the whole run's and the last
// fifth's ratios to the first and their verdicts; a run too short for them (the quick bench)
// says it was not measured, where it printed a ratio of 0 as met.
func TestFlatRowsNeedBothFifths(t *testing.T) {
	r := &benchReport{e2eDur: 1100 * time.Millisecond}
	for _, row := range flatRows(r) {
		if row.verdict != "not measured" || !strings.Contains(row.value, "1.1s") {
			t.Errorf("a run with no fifths measured: %+v", row)
		}
	}
	r.e2eEarly, r.e2eWhole, r.e2eLate = 30*time.Microsecond, 33*time.Microsecond, 36*time.Microsecond
	rows := flatRows(r)
	if len(rows) != 2 || !strings.Contains(rows[0].what, "whole run") || !strings.Contains(rows[1].what, "last fifth") {
		t.Fatalf("rows %+v, want the whole run's then the last fifth's", rows)
	}
	if row := rows[0]; row.verdict != "met (0.85× the target)" || !strings.HasPrefix(row.value, "1.10 (33.0 / 30.0 µs") {
		t.Errorf("the whole run: %+v", row)
	}
	if row := rows[1]; row.verdict != "met (0.92× the target)" || !strings.HasPrefix(row.value, "1.20 (36.0 / 30.0 µs") {
		t.Errorf("the last fifth: %+v", row)
	}
	r.e2eLate = 42 * time.Microsecond // 1.4
	if rows := flatRows(r); !strings.HasPrefix(rows[1].verdict, "MISSED") || !strings.HasPrefix(rows[0].verdict, "met") {
		t.Errorf("only the last fifth over the target: %+v", rows)
	}
}

// The stored-size rows: the throughput run's directory is judged against the target as the big
// state's is (it was only described), and both rows say per household what takes the room,
// with the small kinds summed.
func TestStoredSizeRows(t *testing.T) {
	r := &benchReport{
		bigHouseholds: 1000, bigCompacted: 300, bigBytesPerHH: 320,
		bigUsage:        []state.KindUsage{{Kind: "households", Keys: 1000, Bytes: 250_000}, {Kind: "person table", Keys: 1600, Bytes: 60_000}},
		smallHouseholds: 100, smallCompacted: 2700, smallBytesPerHH: 7300, smallValueBytes: 925,
		smallUsage: []state.KindUsage{
			{Kind: "alert index", Keys: 80, Bytes: 146_000},
			{Kind: "households", Keys: 100, Bytes: 94_000},
			{Kind: "timers", Keys: 70, Bytes: 1_700},
			{Kind: "metadata", Keys: 3, Bytes: 100},
		},
	}
	var big, after *benchRow
	rows := r.rows()
	for i := range rows {
		switch {
		case strings.HasPrefix(rows[i].what, "5. Badger bytes per household, 1000"):
			big = &rows[i]
		case strings.HasPrefix(rows[i].what, "5. Badger bytes per household after the throughput run"):
			after = &rows[i]
		}
	}
	if big == nil || after == nil {
		t.Fatalf("rows %+v lack one of the stored-size rows", rows)
	}
	if big.verdict != "met (0.75× the target)" || !strings.Contains(big.value, "households 250 B (1000 records), person table 60 B (1600 records)") {
		t.Errorf("big state row: %+v", *big)
	}
	if after.verdict != "MISSED (6.75× the target)" {
		t.Errorf("after the throughput run: verdict %q, want it judged on 2700 B", after.verdict)
	}
	for _, want := range []string{"2700 B once compacted, 7300 B right after (100 households holding 925-byte values)", "alert index 1460 B (80 records), households 940 B (100 records), other 18 B"} {
		if !strings.Contains(after.value, want) {
			t.Errorf("after the throughput run: %q lacks %q", after.value, want)
		}
	}
}
