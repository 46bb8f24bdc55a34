package intake

import (
	"context"

	"github.com/segmentio/kafka-go"
)

// SetParkedReadHook makes the parked topic's reader call hook with each batch before applying
// it; an error from hook ends the reader without applying the batch.
func SetParkedReadHook(c *Config, hook func(ctx context.Context, partition int, batch []kafka.Message) error) {
	c.parkedReadHook = hook
}

// TombstonesInFlight is how many tombstones this instance wrote that its parked reader has not
// read back yet. It takes the parking lock, so a release under way finishes first.
func TombstonesInFlight(i *Intake) int {
	i.parkMu.Lock()
	defer i.parkMu.Unlock()
	n := 0
	for _, c := range i.tombstoned {
		n += c
	}
	return n
}

// ResendFilterLoaded reports whether the resend filter holds the seen table, and how many
// resend checks it answered and how many went to the store.
func ResendFilterLoaded(i *Intake) (loaded bool, fromMemory, fromStore int64) {
	i.seen.mu.Lock()
	loaded = i.seen.loaded
	i.seen.mu.Unlock()
	return loaded, i.seenFromMemory.Load(), i.seenFromStore.Load()
}
