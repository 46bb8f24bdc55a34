package contracts

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/api"
	"safetynet/stream/feed"
	"safetynet/stream/intake"
	"safetynet/stream/kafkaio"
	"safetynet/stream/kafkatest"
	"safetynet/stream/monitor"
	"safetynet/stream/topics"
)

const apiToken = "contracts-5c1e8d7b3a904f62be17a0d4c9e3f1"

// service is safetynet (intake, monitor, HTTP API) running in-process against an embedded
// broker (kfake over TCP) and a real Badger store, wired as cmd/safetynet's run does.
type service struct {
	addr   string // the broker
	topics topics.Topics
	api    *httptest.Server
}

func startService(t *testing.T) *service {
	t.Helper()
	topics := topics.Default()
	_, addr := kafkatest.Broker(t, 3, topics.All()...)
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	reg := prometheus.NewRegistry()
	pseud, err := feed.NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	k := kafkaio.Kafka{Brokers: []string{addr}}
	in, err := intake.New(intake.Config{Kafka: k, Topics: topics, GroupID: "contracts-intake"}, store, pseud, intake.NewMetrics(reg), logger)
	if err != nil {
		t.Fatal(err)
	}
	model := scorer.Default()
	mon := monitor.New(monitor.Config{Kafka: k, Topics: topics, GroupID: "contracts-monitor", BatchWait: 2 * time.Millisecond}, store, model, monitor.NewMetrics(reg), logger)
	ready := func() (bool, []string) {
		var why []string
		if !in.CaughtUp() {
			why = append(why, "the person table is still reading the registry topic")
		}
		if ok, r := mon.Ready(); !ok {
			why = append(why, r)
		}
		return len(why) == 0, why
	}
	caller, err := api.NewCaller("contracts", apiToken, api.RoleSupervisor, "")
	if err != nil {
		t.Fatal(err)
	}
	audit := api.NewKafkaAudit(k, topics.Audit)
	t.Cleanup(func() { audit.Close() })
	api := httptest.NewServer(api.New(api.Config{Callers: []api.Caller{caller}, Auditor: audit, Trail: audit, Ready: ready}, store, model, reg, logger))

	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return in.Run(gctx) })
	g.Go(func() error { return mon.Run(gctx) })
	t.Cleanup(func() {
		api.Close()
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("service: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ok, _ := ready(); ok {
			break
		}
		if time.Now().After(deadline) {
			_, why := ready()
			t.Fatalf("service not ready within 60s: %v", why)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &service{addr: addr, topics: topics, api: api}
}

// waitFor polls cond until it holds or a minute has passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pythonWithConfluent returns a python3 that can import confluent_kafka: $PYTHON, python3 on
// PATH, or Debian's /usr/bin/python3 (a python3 earlier on PATH, such as a version manager's,
// may lack the Debian package). Missing: the test fails under CI and is skipped elsewhere.
func pythonWithConfluent(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PYTHON"), "python3", "/usr/bin/python3"} {
		if p == "" {
			continue
		}
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import confluent_kafka").Run() == nil {
			return path
		}
	}
	const why = "no python3 with confluent_kafka found (Debian package python3-confluent-kafka; .ci/run installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}
