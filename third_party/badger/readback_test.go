/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

import (
	"errors"
	"fmt"
	"testing"
)

// readBack reads key(i) for every i below n in one transaction and checks it against want(i):
// its value, or absent when want says it is not there. stage names the moment in the failure.
func readBack(t *testing.T, db *DB, stage string, n int, key func(i int) string, want func(i int) (string, bool)) {
	t.Helper()
	err := db.View(func(txn *Txn) error {
		for i := range n {
			k := key(i)
			w, ok := want(i)
			item, err := txn.Get([]byte(k))
			switch {
			case !ok && errors.Is(err, ErrKeyNotFound):
				continue
			case !ok:
				return fmt.Errorf("%s deleted, read %v", k, err)
			case err != nil:
				return fmt.Errorf("%s: %w", k, err)
			}
			got, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if string(got) != w {
				return fmt.Errorf("%s reads %.40q, want %.40q", k, got, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", stage, err)
	}
}
