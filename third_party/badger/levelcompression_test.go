/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

import (
	"fmt"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4/options"
)

func TestCompressionFor(t *testing.T) {
	plain := DefaultOptions("").WithCompression(options.ZSTD)
	tiered := plain.WithUpperLevelCompression(options.Snappy)
	none := plain.WithUpperLevelCompression(options.None)
	dense := tiered.WithDenseLastLevelFrom(64 << 20)
	for _, c := range []struct {
		opt      Options
		level    int
		lastSize int64
		want     options.CompressionType
	}{
		{plain, 0, 0, options.ZSTD},
		{plain, 6, 0, options.ZSTD},
		{tiered, 0, 0, options.Snappy},
		{tiered, 5, 1 << 30, options.Snappy},
		{tiered, 6, 0, options.ZSTD},
		{none, 3, 0, options.None},
		{none, 6, 0, options.ZSTD},
		{dense, 6, 64<<20 - 1, options.Snappy}, // a small last level: rewritten by every base-level compaction
		{dense, 6, 64 << 20, options.ZSTD},
		{dense, 5, 1 << 30, options.Snappy},
		{plain.WithDenseLastLevelFrom(64 << 20), 6, 0, options.ZSTD}, // no upper-level compression set: one compression
	} {
		if got := c.opt.compressionFor(c.level, 7, c.lastSize); got != c.want {
			t.Errorf("compressionFor(%d, last level %d bytes) = %v, want %v", c.level, c.lastSize, got, c.want)
		}
	}
}

// TestUpperLevelsCompressedApart: with Snappy above the last level and ZSTD at it, flushed
// tables are Snappy and the tables compactions write to the last level ZSTD, and the directory
// reads back whole when reopened with ZSTD everywhere (each table's compression is in the
// manifest).
func TestUpperLevelsCompressedApart(t *testing.T) {
	dir := t.TempDir()
	opt := DefaultOptions(dir).WithLogger(nil).
		WithMemTableSize(1 << 20).WithBaseTableSize(64 << 10).WithBaseLevelSize(256 << 10).
		WithNumLevelZeroTables(2).WithNumLevelZeroTablesStall(4).WithValueThreshold(1024).
		WithCompression(options.ZSTD).WithUpperLevelCompression(options.Snappy)
	db, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	value := func(i int) string { return fmt.Sprintf("value %d, about eighty bytes of it repeated %080d", i, i) }
	write := func(db *DB, from, to int) {
		t.Helper()
		wb := db.NewWriteBatch()
		for i := from; i < to; i++ {
			if err := wb.Set(fmt.Appendf(nil, "k%06d", i), []byte(value(i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := wb.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	tables := func(db *DB) map[int]map[options.CompressionType]int {
		seen := map[int]map[options.CompressionType]int{}
		for _, l := range db.lc.levels {
			l.RLock()
			for _, tb := range l.tables {
				if seen[l.level] == nil {
					seen[l.level] = map[options.CompressionType]int{}
				}
				seen[l.level][tb.CompressionType()]++
			}
			l.RUnlock()
		}
		return seen
	}
	last := len(db.lc.levels) - 1
	const keys = 30000
	write(db, 0, keys-100)
	// the background compactions take level 0 down to the last level (the base level of a tree
	// this small)
	deadline := time.Now().Add(20 * time.Second)
	for tables(db)[last][options.ZSTD] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no table reached level %d in 20 s: %v", last, tables(db))
		}
		time.Sleep(20 * time.Millisecond)
	}
	write(db, keys-100, keys)
	if err := db.Close(); err != nil { // flushes the memtable to level 0
		t.Fatal(err)
	}

	db, err = Open(DefaultOptions(dir).WithLogger(nil).WithCompression(options.ZSTD).WithValueThreshold(1024))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	seen := tables(db)
	for level, byType := range seen {
		for ct, n := range byType {
			want := options.Snappy
			if level == last {
				want = options.ZSTD
			}
			if ct != want {
				t.Errorf("%d tables of level %d compressed with %v, want %v", n, level, ct, want)
			}
		}
	}
	if seen[last][options.ZSTD] == 0 || seen[0][options.Snappy] == 0 {
		t.Errorf("tables by level and compression %v: want Snappy tables in level 0 and ZSTD in level %d", seen, last)
	}
	readBack(t, db, "reopened with ZSTD only", keys, func(i int) string { return fmt.Sprintf("k%06d", i) },
		func(i int) (string, bool) { return value(i), true })
}
