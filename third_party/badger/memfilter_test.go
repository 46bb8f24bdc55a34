/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

import (
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4/y"
)

// TestMemFilterHasEveryKeyAdded: no key added is ever reported absent, and at the load a full
// memtable gives its filter (one key per eight bits at the least) few absent keys are reported
// present.
func TestMemFilterHasEveryKeyAdded(t *testing.T) {
	const memTableSize = 1 << 20
	f := newMemFilter(memTableSize)
	if got, want := len(f.words)*64, memTableSize/8; got != want {
		t.Fatalf("filter of %d bits for a %d-byte memtable, want %d", got, memTableSize, want)
	}
	n := memTableSize / 64 // one key per 64 bytes of memtable: 8 bits per key
	for i := range n {
		f.add(y.Hash(fmt.Appendf(nil, "h/%d/household-%08d", i%4, i)))
	}
	for i := range n {
		if !f.mayHave(y.Hash(fmt.Appendf(nil, "h/%d/household-%08d", i%4, i))) {
			t.Fatalf("key %d added but reported absent", i)
		}
	}
	present := 0
	for i := range n {
		if f.mayHave(y.Hash(fmt.Appendf(nil, "h/%d/absent-%08d", i%4, i))) {
			present++
		}
	}
	if rate := float64(present) / float64(n); rate > 0.06 {
		t.Errorf("%.3f of absent keys reported present, want at most 0.06", rate)
	}
	if small := newMemFilter(1024); len(small.words)*64 != 1<<16 {
		t.Errorf("filter of a tiny memtable has %d bits, want the floor of %d", len(small.words)*64, 1<<16)
	}
}

// TestGetReadsTheNewestVersionAcrossLevels writes every key, pushes them down the tree, then
// rewrites some and deletes others, so that keys have older versions in deeper levels and the
// newest in memtables, level 0 or the level above. Every read must give the newest value: a
// memtable filter that missed a key, or a level read that skipped a table holding a newer
// version, would return an older one.
func TestGetReadsTheNewestVersionAcrossLevels(t *testing.T) {
	opt := DefaultOptions(t.TempDir()).WithLogger(nil).
		WithMemTableSize(1 << 20).WithBaseTableSize(64 << 10).WithValueThreshold(64).
		WithNumLevelZeroTables(2).WithNumLevelZeroTablesStall(4).WithNumCompactors(2)
	db, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()

	const keys = 6000
	want := map[string]string{}
	write := func(round int, pick func(i int) bool, del bool) {
		wb := db.NewWriteBatch()
		for i := range keys {
			if !pick(i) {
				continue
			}
			k := fmt.Sprintf("h/household-%06d", i)
			if del {
				if err := wb.Delete([]byte(k)); err != nil {
					t.Fatal(err)
				}
				delete(want, k)
				continue
			}
			// every third value is long enough for the value log, the rest stay in the tree
			v := fmt.Sprintf("round %d of %s %0*d", round, k, (i%3)*40, i)
			if err := wb.Set([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
			want[k] = v
		}
		if err := wb.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	key := func(i int) string { return fmt.Sprintf("h/household-%06d", i) }
	check := func(stage string) {
		t.Helper()
		readBack(t, db, stage, keys, key, func(i int) (string, bool) { v, ok := want[key(i)]; return v, ok })
	}

	for round := range 4 {
		write(round, func(int) bool { return true }, false)
	}
	check("written four times")
	if err := db.Flatten(2); err != nil {
		t.Fatal(err)
	}
	check("flattened")
	write(10, func(i int) bool { return i%5 == 0 }, false)
	write(11, func(i int) bool { return i%7 == 0 }, true)
	if err := db.Flatten(2); err != nil {
		t.Fatal(err)
	}
	write(12, func(i int) bool { return i%11 == 0 }, false)
	check("rewritten and deleted over older versions in deeper levels")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(opt); err != nil {
		t.Fatal(err)
	}
	check("reopened, memtables replayed from their logs")
}
