/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestValueLogRotatesWithoutSync: value-log files filled and cut without the msync (SyncWrites
// off) are cut to what they hold, every value reads back before and after a reopen, and a
// value-log collection can rewrite them.
func TestValueLogRotatesWithoutSync(t *testing.T) {
	dir := t.TempDir()
	opt := DefaultOptions(dir).WithLogger(nil).WithSyncWrites(false).
		WithValueLogFileSize(1 << 20).WithValueThreshold(64).WithMemTableSize(1 << 20)
	db, err := Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	value := func(i, round int) []byte {
		return append(fmt.Appendf(nil, "%06d/%d:", i, round), bytes.Repeat([]byte{byte('a' + i%26)}, 1000)...)
	}
	const keys = 4000 // 4 MB a round: four files or more
	write := func(round int) {
		wb := db.NewWriteBatch()
		for i := range keys {
			if err := wb.Set(fmt.Appendf(nil, "k%06d", i), value(i, round)); err != nil {
				t.Fatal(err)
			}
		}
		if err := wb.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(stage string, round int) {
		t.Helper()
		readBack(t, db, stage, keys, func(i int) string { return fmt.Sprintf("k%06d", i) },
			func(i int) (string, bool) { return string(value(i, round)), true })
	}
	write(0)
	write(1)
	check("written twice", 1)
	files, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if len(files) < 5 {
		t.Fatalf("%d value-log files: the writes did not fill and cut several", len(files))
	}
	cut := 0
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != 2<<20 { // files are created at twice the file size and cut once full
			cut++
		}
	}
	if cut < len(files)-1 {
		t.Errorf("%d of %d value-log files cut to what they hold", cut, len(files))
	}
	// compactions find the first round's values stale, and the collection rewrites a file
	if err := db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	if err := db.RunValueLogGC(0.3); err != nil && err != ErrNoRewrite {
		t.Fatalf("value-log collection over the cut files: %v", err)
	}
	check("after a value-log collection", 1)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(opt); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	check("reopened", 1)
}
