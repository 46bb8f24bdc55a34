package app

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/kafkaio"
)

// brokerProbe asks the brokers for metadata every probeInterval, so that readiness reports a
// broker the service cannot reach or that fails its requests. Without it /readyz stayed true
// through a broker outage: the workers and the intake retry quietly and keep their "caught up"
// marks.
type brokerProbe struct {
	kafka  kafkaio.Kafka
	logger *slog.Logger
	ok     atomic.Bool
}

const (
	probeInterval = 2 * time.Second
	probeTimeout  = 3 * time.Second
)

func newBrokerProbe(k kafkaio.Kafka, logger *slog.Logger) *brokerProbe {
	p := &brokerProbe{kafka: k, logger: logger}
	p.ok.Store(true)
	return p
}

// healthy reports whether the last probe reached the brokers.
func (p *brokerProbe) healthy() bool { return p.ok.Load() }

func (p *brokerProbe) run(ctx context.Context) {
	client := &kafka.Client{Addr: kafka.TCP(p.kafka.Brokers...), Transport: p.kafka.Transport(), Timeout: probeTimeout}
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		_, err := client.Metadata(pctx, &kafka.MetadataRequest{})
		cancel()
		if ctx.Err() != nil {
			return
		}
		ok := err == nil
		if was := p.ok.Swap(ok); was != ok {
			if ok {
				p.logger.Info("the Kafka brokers answer again")
			} else {
				p.logger.Error("the Kafka brokers do not answer; not ready until they do (the service retries with backoff)", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
