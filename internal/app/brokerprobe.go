package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
				p.logger.Error("the Kafka brokers do not answer; not ready until they do (the service retries with backoff)", "err", explainKafkaError(err, p.kafka))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// explainKafkaError says what to fix for the errors of a broker that refuses the connection's
// security settings; other errors are returned as they are.
func explainKafkaError(err error, k kafkaio.Kafka) error {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var alert tls.AlertError
	msg := err.Error()
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed) || strings.Contains(msg, "SASL Authentication Failed") || strings.Contains(msg, "SASL"):
		return fmt.Errorf("the brokers refused the SASL login: check %sKAFKA_SASL_USERNAME, %sKAFKA_SASL_PASSWORD and %sKAFKA_SASL_MECHANISM: %w", EnvPrefix, EnvPrefix, EnvPrefix, err)
	case errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || strings.Contains(msg, "x509:"):
		return fmt.Errorf("the brokers' TLS certificate is not trusted: check %sKAFKA_TLS_CA_FILE (and that the broker address matches its certificate): %w", EnvPrefix, err)
	case errors.As(err, &alert) || strings.Contains(msg, "tls:") || strings.Contains(msg, "remote error"):
		return fmt.Errorf("the brokers refused the TLS handshake (a client certificate may be required: %sKAFKA_TLS_CERT_FILE, %sKAFKA_TLS_KEY_FILE): %w", EnvPrefix, EnvPrefix, err)
	case k.SASL != nil && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		// Some brokers close the connection on a failed login instead of answering it.
		return fmt.Errorf("the brokers closed the connection during the SASL login, most often a refused login: check %sKAFKA_SASL_USERNAME, %sKAFKA_SASL_PASSWORD and %sKAFKA_SASL_MECHANISM: %w", EnvPrefix, EnvPrefix, EnvPrefix, err)
	}
	return err
}
