package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/api"
	"safetynet/stream/kafkaio"
)

// caseworkWriter is the API's producer of casework actions: the casework topic, keyed by
// household, acknowledged by all in-sync replicas. The returned close ends it.
func caseworkWriter(k kafkaio.Kafka, topic string, logger *slog.Logger) (api.CaseworkWriter, func()) {
	w := k.Writer(topic, kafkaio.HouseholdBalancer())
	write := func(ctx context.Context, key, value []byte) error {
		if err := w.WriteMessages(ctx, kafka.Message{Key: key, Value: value}); err != nil {
			return fmt.Errorf("write to %s: %w", topic, err)
		}
		return nil
	}
	return write, func() {
		if err := w.Close(); err != nil {
			logger.Warn("close the casework writer", "err", err)
		}
	}
}
