package monitor

import (
	"fmt"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/state"
)

// TestBatchTooLargeForOneTransactionIsSplit: a batch whose state does not fit in one store
// transaction (Badger takes about 15% of the memtable size in one commit) is applied in halves
// instead of failing and being retried for ever, which stalled its partition. The store's
// memtable is made small (1 MiB: about 150 KB per transaction) and the monitor's batch large, so
// a registry of new households — their values in the tree, under the value-log threshold —
// arrives as batches of about 1,300 households per partition, over the bound. The intake's
// registry reader takes batches of up to 2,000 records, and its person-table transactions are
// over the bound too: it splits them the same way (Intake.applyRegistryBatch; without that the
// pipeline stops at "write person table: Txn is too big").
func TestBatchTooLargeForOneTransactionIsSplit(t *testing.T) {
	addr := newBroker(t)
	c := &clock{now: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}
	p := startPipelineWith(t, addr, state.Options{Dir: t.TempDir(), MemTableSize: 1 << 20}, c, scorer.Default(), func(cfg *Config) {
		cfg.BatchSize = 2000
		cfg.BatchWait = 2 * time.Second // the batch takes everything that arrives
	})
	p.waitReady()
	const n = 4000
	produce(t, addr, p.topics.Registry, newHeads(n, "H-BIG", 1940, "F", c.Now().AddDate(-1, 0, 0))...)
	if got := waitHouseholdCount(t, p.store, n, 90*time.Second); got != n {
		t.Fatalf("%d of %d households stored after 90 s: a batch too large for one transaction stalls its partition", got, n)
	}
}

// newHeads is the registry records of n one-person households (ids prefix-0000 on), their heads
// born from firstYear on (a thousand a year, so that the ID numbers differ), joined at at.
func newHeads(n int, prefix string, firstYear int, sex string, at time.Time) []rec {
	recs := make([]rec, 0, n)
	for i := range n {
		year := firstYear + i/1000
		person := withCheck(fmt.Sprintf("420106%04d0301%03d", year, i%1000))
		recs = append(recs, joined(person, fmt.Sprintf("%s-%04d", prefix, i), date(year, 3, 1), sex, "head", at))
	}
	return recs
}

// waitHouseholdCount waits up to d for the store to hold n households and returns how many it
// holds.
func waitHouseholdCount(t *testing.T, store *state.Store, n int, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := 0
		if err := store.Households(func(string, []byte) error { got++; return nil }); err != nil {
			t.Fatal(err)
		}
		if got == n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}
