package state

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
)

// TestPacedCompactionsKeepEveryValue: with Badger's compactions and flushes paced
// (compactionPace, third_party/badger), a store written through many small memtables, so that
// flushes and level-0 compactions run while the writes go on, still holds the newest value of
// every household. (The pacing itself is tested in third_party/badger/pace_test.go.)
func TestPacedCompactionsKeepEveryValue(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const households, rounds = 4000, 12
	value := func(i, round int) []byte {
		return fmt.Appendf(nil, "%06d/%02d|%s", i, round, bytes.Repeat([]byte{byte('a' + i%26)}, 200))
	}
	for round := range rounds {
		b := s.NewBatch()
		for i := range households {
			if err := b.PutHousehold(fmt.Sprintf("H-%06d", (i*7919)%households), value((i*7919)%households, round)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table was written: the memtables never flushed, nothing was compacted")
	}
	// LSMSize (the state_lsm_bytes gauge) counts the tables, with Badger's counters off
	if lsm := s.LSMSize(); lsm <= 0 {
		t.Errorf("LSMSize %d with %d tables on disk", lsm, len(tables))
	}
	n := 0
	err = s.Households(func(id string, v []byte) error {
		var i int
		if _, err := fmt.Sscanf(id, "H-%06d", &i); err != nil {
			return err
		}
		if want := value(i, rounds-1); !bytes.Equal(v, want) {
			return fmt.Errorf("household %s: %.12q, want %.12q", id, v, want)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != households {
		t.Fatalf("%d households read back, want %d", n, households)
	}
}
