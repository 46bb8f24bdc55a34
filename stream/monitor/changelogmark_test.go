package monitor

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/kafkaio"
)

// TestStopRecordsChangelogPosition: a monitor stopped between batches records the changelog's
// end as each partition's position, so the next start on the same directory has nothing to catch
// up. Before, the position was recorded only after changelogMarkEvery of idleness: a service
// stopped soon after a busy spell caught up through everything it had written on its next start
// (on 1,000,000 households, a cold start of 10 s to 100 s instead of 1 s).
func TestStopRecordsChangelogPosition(t *testing.T) {
	addr := newBroker(t)
	c := &clock{now: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	p := startPipelineWith(t, addr, state.Options{Dir: dir}, c, scorer.Default(), nil)
	p.waitReady()
	time.Sleep(200 * time.Millisecond) // past the first idle mark, made at start
	const n = 300
	produce(t, addr, p.topics.Registry, newHeads(n, "H-MARK", 1950, "M", c.Now().AddDate(-1, 0, 0))...)
	if got := waitHouseholdCount(t, p.store, n, 60*time.Second); got != n {
		t.Fatalf("%d of %d households stored after 60 s", got, n)
	}
	p.stop() // well within changelogMarkEvery of the start's mark

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kafkaio.TopicOffsets(ctx, &kafka.Client{Addr: kafka.TCP(addr)}, p.topics.Changelog, kafka.LastOffset)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(state.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	total := int64(0)
	for part, end := range ends {
		total += end
		pos, found, err := store.Offset(p.topics.Changelog, part)
		if err != nil {
			t.Fatal(err)
		}
		if !found || pos != end {
			t.Errorf("partition %d: changelog position recorded %d (found %v), the changelog ends at %d: the next start catches up %d records",
				part, pos, found, end, end-pos)
		}
	}
	if total == 0 {
		t.Fatal("the monitor wrote no changelog record")
	}
}
