package kafkaio

import (
	"io"
	"log/slog"
	"time"
)

// groupCloseTimeout bounds how long stopping waits for a kafka-go consumer group to leave (the
// monitor waits finishTimeout+1s instead, since closing its group also waits for the workers
// to finish their batch).
// Closing a group blocks while a JoinGroup is in flight, and the broker holds a JoinGroup
// until every old member rejoins or times out (up to the rebalance timeout, 30 s): after a
// crash and restart, a SIGTERM would otherwise wait that long. Leaving is only a courtesy
// (the broker drops a silent member after its session timeout), and every output is
// acknowledged and persisted before it, so giving up on it loses nothing.
const GroupCloseTimeout = 2 * time.Second

// closeWithin closes c, waiting at most d; after that it logs and returns, leaving the close
// to finish (or not) in the background.
func CloseWithin(c io.Closer, d time.Duration, what string, log *slog.Logger) {
	done := make(chan struct{})
	go func() {
		if err := c.Close(); err != nil {
			log.Debug("close "+what, "err", err)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		log.Warn("gave up waiting for "+what+" to leave its consumer group; the broker drops it after the session timeout", "waited", d)
	}
}
