package monitor

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/stream/api"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
	"safetynet/stream/ui"

	"github.com/segmentio/kafka-go"
)

// apiTestToken is the token of the API tests' caller (a caseworker of every area).
const apiTestToken = "monitor-api-7f3a9c01d2e4b5a6978877665544"

// apiConfig is the API of the monitor's tests: one caller with token, the audit trail on the
// broker at addr.
func apiConfig(t *testing.T, addr, token string, now func() time.Time) api.Config {
	t.Helper()
	c, err := api.NewCaller("monitor-tests", token, api.RoleCaseworker, "")
	if err != nil {
		t.Fatal(err)
	}
	audit := api.NewKafkaAudit(kafkaio.Kafka{Brokers: []string{addr}}, topics.Default().Audit)
	t.Cleanup(func() { audit.Close() })
	return api.Config{Callers: []api.Caller{c}, Auditor: audit, Trail: audit, Now: now}
}

// caseworkAPIConfig is apiConfig for the pipeline p with the given callers (replacing the
// default one) and casework actions written to p's casework topic, as the service writes them.
func caseworkAPIConfig(t *testing.T, p *pipeline, now func() time.Time, callers ...api.Caller) api.Config {
	t.Helper()
	w := kafkaio.Kafka{Brokers: []string{p.addr}}.Writer(p.topics.Casework, kafkaio.HouseholdBalancer())
	t.Cleanup(func() { w.Close() })
	cfg := apiConfig(t, p.addr, apiTestToken, now)
	cfg.Callers = callers
	cfg.Casework = func(ctx context.Context, key, value []byte) error {
		return w.WriteMessages(ctx, kafka.Message{Key: key, Value: value})
	}
	return cfg
}

// testCaller is api.NewCaller, failing the test on an error.
func testCaller(t *testing.T, name, token, role, area string) api.Caller {
	t.Helper()
	c, err := api.NewCaller(name, token, role, area)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// uiServer serves the API of cfg over p's store and the caseworker UI under /ui/, as the
// service does, until the test ends.
func uiServer(t *testing.T, p *pipeline, cfg api.Config, now func() time.Time) *httptest.Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := api.New(cfg, p.store, scorer.Default(), nil, logger)
	u, err := ui.New(ui.Config{API: a, Now: now, SessionKey: []byte("ui-test-session-key-2f8c1e9a7b3d5f60"), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", u)
	mux.Handle("/", a)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
