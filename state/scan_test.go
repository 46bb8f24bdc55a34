package state

import (
	"fmt"
	"slices"
	"testing"
)

func fillHouseholds(t testing.TB, s *Store, n int) []string {
	t.Helper()
	b := s.NewBatch()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("H-%06d", i)
		ids = append(ids, id)
		if err := b.PutHousehold(id, fmt.Appendf(nil, "p%d|%s", i%3, make([]byte, 300))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestScanHouseholdsCursor: a walk in small steps from cursor to cursor reads every household
// once, in id order, and reports the end; fn returning false stops at that household.
func TestScanHouseholdsCursor(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := fillHouseholds(t, s, 1000)
	for _, step := range []int{1, 7, 1000, 5000} {
		var got []string
		cursor, calls := "", 0
		for {
			calls++
			last, end, err := s.ScanHouseholds(cursor, step, func(id string, v []byte) bool {
				got = append(got, id)
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if end {
				break
			}
			if last == cursor {
				t.Fatalf("step %d: cursor did not move from %q", step, cursor)
			}
			cursor = last
		}
		if !slices.Equal(got, want) {
			t.Errorf("step %d: read %d households (first %v), want %d in order", step, len(got), got[:min(3, len(got))], len(want))
		}
		if wantCalls := (1000 + step - 1) / step; calls != wantCalls {
			t.Errorf("step %d: %d calls, want %d", step, calls, wantCalls)
		}
	}
	var seen []string
	last, end, err := s.ScanHouseholds("H-000010", 100, func(id string, v []byte) bool {
		seen = append(seen, id)
		return id != "H-000012"
	})
	if err != nil || end || last != "H-000012" || !slices.Equal(seen, []string{"H-000011", "H-000012"}) {
		t.Errorf("stop at H-000012: last %q end %v err %v seen %v", last, end, err, seen)
	}
}

func TestMarks(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, found, err := s.Mark(2, "model"); err != nil || found {
		t.Fatalf("unset mark: found %v err %v", found, err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.SetMark(2, "model", "v7") }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		partition int
		name      string
		want      string
		found     bool
	}{{2, "model", "v7", true}, {3, "model", "", false}, {2, "backfill", "", false}} {
		got, found, err := s.Mark(tc.partition, tc.name)
		if err != nil || got != tc.want || found != tc.found {
			t.Errorf("Mark(%d, %q) = %q, %v, %v; want %q, %v", tc.partition, tc.name, got, found, err, tc.want, tc.found)
		}
	}
}

// BenchmarkScanHouseholds: one walk over 130,000 households (the synthetic population), the
// cost of finding a partition's households without an index.
func BenchmarkScanHouseholds(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fillHouseholds(b, s, 130000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		n, cursor := 0, ""
		for {
			last, end, err := s.ScanHouseholds(cursor, 5000, func(id string, v []byte) bool {
				if v[1] == '0' {
					n++
				}
				return true
			})
			if err != nil {
				b.Fatal(err)
			}
			if end {
				break
			}
			cursor = last
		}
		if n == 0 {
			b.Fatal("no household of partition 0")
		}
	}
}
