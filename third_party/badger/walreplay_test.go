/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

import (
	"fmt"
	"testing"
)

// TestMemtableLogReplaysAfterACrash writes entries that stay in the memtable, then opens the
// directory again without closing the first DB, as after a crash: the second DB has the
// entries only from the memtable's log, whose replay checks each entry's checksum and drops
// the log's tail from the first entry that fails it. It fails if encodeEntry's checksum does
// not cover the header, key and value as written (plain and encrypted).
func TestMemtableLogReplaysAfterACrash(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprintf("encrypted=%v", encrypted), func(t *testing.T) {
			dir := t.TempDir()
			opt := DefaultOptions(dir).WithLogger(nil).WithBypassLockGuard(true).
				WithValueThreshold(64).WithMemTableSize(8 << 20)
			if encrypted {
				opt = opt.WithEncryptionKey([]byte("0123456789abcdef0123456789abcdef")).WithIndexCacheSize(1 << 20)
			}
			crashed, err := Open(opt)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = crashed.Close() }()
			const keys = 2000
			key := func(i int) string { return fmt.Sprintf("k/%05d", i) }
			// every other value is long enough for the value log, the rest stay in the tree
			value := func(i int) string { return fmt.Sprintf("value %d %0*d", i, (i%2)*100, i) }
			wb := crashed.NewWriteBatch()
			for i := range keys {
				if err := wb.Set([]byte(key(i)), []byte(value(i))); err != nil {
					t.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				t.Fatal(err)
			}

			reopened, err := Open(opt)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = reopened.Close() }()
			readBack(t, reopened, "replayed from the memtable's log", keys, key, func(i int) (string, bool) { return value(i), true })
		})
	}
}
