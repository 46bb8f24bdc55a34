package kafkaio

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Every loop that waits for the brokers or the store to come back uses this backoff: 100 ms
// doubling to 10 s, with jitter, so that instances do not retry in step.

// Retry runs f until it succeeds or ctx ends, logging each failure as something to act on.
func Retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	b := NewBackoff()
	for {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := b.Next()
		log.Warn("cannot "+what+"; retrying (check that the brokers are reachable and the topic exists)", "err", err, "retry_in", d)
		if !Sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// Backoff is the retry delay of one loop.
type Backoff struct{ d time.Duration }

// NewBackoff returns a backoff at its first step.
func NewBackoff() *Backoff { return &Backoff{} }

// Reset starts again from the first step (after a success).
func (b *Backoff) Reset() { b.d = 0 }

// Next returns 100ms, 200ms, … up to 10s, with jitter.
func (b *Backoff) Next() time.Duration {
	switch {
	case b.d == 0:
		b.d = 100 * time.Millisecond
	case b.d < 10*time.Second:
		b.d = min(2*b.d, 10*time.Second)
	}
	return b.d/2 + rand.N(b.d/2+1)
}

// Sleep waits d, or until ctx ends (false).
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
