package kafkaio

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Hooks into the package's internals for its tests, which are an external package
// (kafkaio_test): they use stream/kafkatest, which reads topics with this package's offsets.

// WrapWriterTransport replaces the round tripper inside a Writer's transport with wrap's result.
func WrapWriterTransport(w *kafka.Writer, wrap func(kafka.RoundTripper) kafka.RoundTripper) {
	wt := w.Transport.(*writerTransport)
	wt.RoundTripper = wrap(wt.RoundTripper)
}

// SetMetadataReuse sets how long a writer's transport reuses topic metadata, until the test ends.
func SetMetadataReuse(t testing.TB, d time.Duration) {
	old := metadataReuse
	metadataReuse = d
	t.Cleanup(func() { metadataReuse = old })
}
