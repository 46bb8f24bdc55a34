package app

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/api"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/intake"
	"safetynet/stream/kafkaio"
	"safetynet/stream/monitor"
	"safetynet/stream/monitor/cluster"
	"safetynet/stream/ui"
)

// shutdownTimeout bounds the clean-up after a stop signal: finishing the batch in flight,
// closing the HTTP server, closing the store.
const shutdownTimeout = 8 * time.Second

// Options are what a caller embedding the service (the command, the demo, tests) adds to the
// config.
type Options struct {
	Stderr  io.Writer // the log
	Version string    // of the binary, for the log and safetynet_build_info
	OnAlert func(household.Alert)
	Now     func() time.Time
	// Listening, when set, receives the HTTP server's address once it listens.
	Listening chan<- string
	// MetricsListening, when set, receives the metrics server's address (SAFETYNET_METRICS_ADDR).
	MetricsListening chan<- string
	Registry         *prometheus.Registry
	// Reload, when set, asks for the model file to be read again (main sends on SIGHUP): a
	// changed model is swapped in and every household re-scored in the background; a file that
	// fails its check is refused and the running model stays.
	Reload <-chan struct{}
}

// Run is the service: intake, monitor and HTTP under one errgroup. It returns when ctx ends (nil)
// or when a part fails (its error).
func Run(ctx context.Context, cfg Config, opts Options) error {
	logger, err := newLogger(cfg, opts.Stderr)
	if err != nil {
		return err
	}
	if cfg.StateEncryptionKey == "" {
		logger.Warn("the state directory is not encrypted at rest: anyone who can read the volume reads the households' facts; set SAFETYNET_STATE_ENCRYPTION_KEY (openssl rand -hex 32) on a new state directory")
	}
	model, modelData, err := loadModel(cfg.ModelFile)
	if err != nil {
		return err
	}
	backfillUntil, err := cfg.backfillUntil()
	if err != nil {
		return fmt.Errorf("%sBACKFILL_UNTIL: %w", EnvPrefix, err)
	}
	kafkaCfg, err := cfg.Kafka()
	if err != nil {
		return err
	}
	pseud, err := feed.NewPseudonymizer([]byte(cfg.PseudonymKey))
	if err != nil {
		return fmt.Errorf("%sPSEUDONYM_KEY: %w", EnvPrefix, err)
	}
	now := opts.Now
	if now == nil && cfg.FrozenTime != "" {
		frozen, _ := time.Parse(time.RFC3339, cfg.FrozenTime)
		now = func() time.Time { return frozen }
		logger.Warn("clock frozen for testing (SAFETYNET_TEST_FROZEN_TIME); never set this in production", "at", frozen)
	}
	if now == nil {
		now = time.Now
	}
	var encKey []byte
	if cfg.StateEncryptionKey != "" {
		encKey, _ = hex.DecodeString(cfg.StateEncryptionKey)
	}

	store, err := state.Open(state.Options{
		Dir: cfg.StateDir, EncryptionKey: encKey, BlockCacheSize: int64(cfg.StateCacheMB) << 20, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			logger.Error("closing the state store failed; the next start will replay from the last committed batch", "err", err)
		}
	}()
	if err := feed.CheckKeyFingerprint(store, pseud); err != nil {
		return fmt.Errorf("%sPSEUDONYM_KEY: %w", EnvPrefix, err)
	}

	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc := newServiceMetrics(reg)
	svc.buildInfo.WithLabelValues(opts.Version, runtime.Version(), model.Version).Set(1)
	stateMetrics := state.NewMetrics(reg)
	lag := kafkaio.NewLagGauge(reg)
	readTimeouts := kafkaio.NewReadTimeouts(reg)

	intakeMetrics := intake.NewMetrics(reg)
	var directory *cluster.Directory // the monitor group's members share the parked events' release
	intake, err := intake.New(intake.Config{
		Membership: func() (string, []string) { return directory.Self(), directory.Members() },
		Kafka:      kafkaCfg, Topics: cfg.Topics, GroupID: cfg.GroupID + "-intake", ReadTimeouts: readTimeouts,
		MaxEventBytes: cfg.MaxEventBytes, MaxFutureSkew: cfg.MaxFutureSkew,
		UnknownPersonWait: cfg.UnknownPersonWait, DedupeWindow: cfg.DedupeWindow, Now: now,
		RedactDeadLetters: cfg.DLQRedact, ParkMaxEvents: cfg.ParkMaxEvents, ParkMaxBytes: cfg.ParkMaxBytes,
	}, store, pseud, intakeMetrics, logger)
	if err != nil {
		return err
	}
	advertised := cfg.advertisedURL(cfg.HTTPAddr)
	directory = cluster.NewDirectory(kafkaCfg, cfg.GroupID+"-monitor", cfg.Topics.HouseholdEvents, advertised, logger)
	var router cluster.Router
	alertTable := cluster.AlertTable{Kafka: kafkaCfg, Topic: cfg.Topics.Alerts, Store: store, Retention: cfg.AlertRetention, Now: now}
	standby := cluster.Standby{Directory: directory, Replicas: cfg.StandbyReplicas, Logger: logger}
	monitor := monitor.New(monitor.Config{
		Kafka: kafkaCfg, Topics: cfg.Topics, GroupID: cfg.GroupID + "-monitor",
		BatchSize: cfg.BatchSize, BatchWait: cfg.BatchWait, Now: now, OnAlert: opts.OnAlert,
		RescoreRate: cfg.RescoreRate, SuppressModelChangeAlerts: cfg.ModelChangeAlerts == "suppress",
		BackfillUntil: backfillUntil, AdvertisedURL: advertised, SpotCheckSeed: cfg.SpotCheckSeed, StateFormat: cfg.StateFormat,
		MaxMembers: cfg.MaxHouseholdMembers, DeadLetters: intakeMetrics.DeadLetters,
		Lag: lag, ReadTimeouts: readTimeouts,
	}, store, model, monitor.NewMetrics(reg), logger)
	router.Monitor, router.Directory = monitor, directory
	standby.Monitor = monitor
	reloader := &modelReloader{path: cfg.ModelFile, current: model, data: modelData, logger: logger,
		swap: func(old, m *scorer.Model) {
			svc.buildInfo.DeleteLabelValues(opts.Version, runtime.Version(), old.Version)
			svc.buildInfo.WithLabelValues(opts.Version, runtime.Version(), m.Version).Set(1)
			monitor.SetModel(m)
		}}

	var diskOK atomic.Bool
	diskOK.Store(true)
	probe := newBrokerProbe(kafkaCfg, logger)
	ready := newReadiness(logger, svc.ready, func() []readyCheck {
		mok, mwhy := monitor.Ready()
		return []readyCheck{
			{ReasonRegistryLoading, intake.CaughtUp(), "the person table is still reading the registry topic"},
			{monitorReason(mwhy), mok, mwhy},
			{ReasonBrokersUnreachable, probe.healthy(), "the Kafka brokers do not answer"},
			{ReasonDiskLow, diskOK.Load(), "the state directory's filesystem is nearly full"},
		}
	})
	callers, err := cfg.Callers()
	if err != nil {
		return err
	}
	casework, closeCasework := caseworkWriter(kafkaCfg, cfg.Topics.Casework, logger)
	defer closeCasework()
	reg.MustRegister(api.NewCaseCollector(store, now))
	audit := api.NewKafkaAudit(kafkaCfg, cfg.Topics.Audit)
	defer func() {
		if err := audit.Close(); err != nil {
			logger.Warn("closing the audit writer", "err", err)
		}
	}()
	var apiMetrics prometheus.Gatherer = reg
	if cfg.MetricsAddr != "" {
		apiMetrics = nil // served on its own address below
	}
	httpAPI := api.New(api.Config{
		Callers: callers, Auditor: audit, Trail: audit, Rate: cfg.APIRate, Burst: cfg.APIBurst, Ready: ready, Now: now, Model: monitor.Model, Casework: casework,
		Router: router, InternalToken: cfg.InternalToken,
	}, store, model, apiMetrics, logger)
	if cfg.InternalToken == "" {
		logger.Warn("SAFETYNET_INTERNAL_TOKEN is not set: requests for households another instance serves answer 503; set it (the same on every instance) when running more than one")
	}
	if len(callers) == 0 {
		logger.Warn("no API callers configured: /v1 answers 401 to every request; set SAFETYNET_API_TOKENS or SAFETYNET_API_TOKENS_FILE")
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("%sHTTP_ADDR: listen on %s: %w", EnvPrefix, cfg.HTTPAddr, err)
	}
	var uiKey []byte
	if cfg.UISessionKey != "" {
		uiKey, _ = hex.DecodeString(cfg.UISessionKey) // checked by LoadConfig
	}
	caseworkerUI, err := ui.New(ui.Config{API: httpAPI, SessionKey: uiKey, SessionIdle: cfg.UISessionIdle, Logger: logger})
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", caseworkerUI)
	mux.Handle("/", httpAPI)
	var handler http.Handler = mux
	if cfg.PProf {
		handler = withPProf(mux)
		logger.Warn("profiler served at /debug/pprof/ (SAFETYNET_PPROF=true); it needs no token: keep the port private")
	}
	httpMetrics := newHTTPMetrics(reg)
	srv := newHTTPServer(httpMetrics.instrument(handler), logger)
	var metricsLn net.Listener
	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("%sMETRICS_ADDR: listen on %s: %w", EnvPrefix, cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", api.MetricsHandler(reg))
		metricsSrv = newHTTPServer(httpMetrics.instrument(mux), logger)
	}
	if opts.Listening != nil {
		opts.Listening <- ln.Addr().String()
	}
	if opts.MetricsListening != nil && metricsLn != nil {
		opts.MetricsListening <- metricsLn.Addr().String()
	}
	logger.Info("safetynet started", "version", opts.Version, "model", model.Version, "http", ln.Addr().String(),
		"brokers", cfg.KafkaBrokers, "state_dir", cfg.StateDir, "partitions_group", cfg.GroupID)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return intake.Run(gctx) })
	g.Go(func() error { return monitor.Run(gctx) })
	g.Go(func() error {
		directory.Run(gctx)
		return nil
	})
	g.Go(func() error {
		standby.Run(gctx)
		return nil
	})
	g.Go(func() error {
		alertTable.Run(gctx, logger)
		return nil
	})
	if opts.Reload != nil {
		g.Go(func() error {
			reloader.run(gctx, opts.Reload)
			return nil
		})
	}
	g.Go(func() error { // lag of the feeds; the monitor's workers set the household-events lag
		return kafkaio.RunGroupLag(gctx, kafkaio.GroupLagConfig{Kafka: kafkaCfg, GroupID: cfg.GroupID + "-intake", Topics: cfg.Topics.FeedTopics()}, lag, logger)
	})
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), shutdownTimeout)
		defer cancel()
		if metricsSrv != nil {
			_ = metricsSrv.Shutdown(sctx)
		}
		return srv.Shutdown(sctx)
	})
	if metricsSrv != nil {
		g.Go(func() error {
			if err := metricsSrv.Serve(metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("metrics server: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		store.RunGC(gctx, 5*time.Minute, stateMetrics.GCRuns.Inc)
		return nil
	})
	g.Go(func() error {
		probe.run(gctx)
		return nil
	})
	g.Go(func() error {
		watchState(gctx, store, cfg.StateDir, stateMetrics, &diskOK, logger)
		return nil
	})
	g.Go(func() error {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				ready()
			}
		}
	})
	err = g.Wait()
	logger.Info("safetynet stopped")
	return err
}

// watchState updates the store size and disk metrics every few seconds.
func watchState(ctx context.Context, store *state.Store, dir string, m *state.Metrics, diskOK *atomic.Bool, logger *slog.Logger) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		m.LSMBytes.Set(float64(store.LSMSize()))
		// what the sparse value-log files take on disk, not their apparent size
		if allocated, _, err := store.VlogDiskUsage(); err == nil {
			m.VlogBytes.Set(float64(allocated))
		} else {
			logger.Warn("value-log disk usage unreadable; safetynet_state_vlog_bytes keeps its last value", "err", err)
		}
		var fs syscall.Statfs_t
		if err := syscall.Statfs(dir, &fs); err == nil {
			free := float64(fs.Bavail) * float64(fs.Bsize)
			size := float64(fs.Blocks) * float64(fs.Bsize)
			m.DiskFreeBytes.Set(free)
			m.DiskSizeBytes.Set(size)
			ok := free > 256<<20 || free/size > 0.02
			if diskOK.Swap(ok) && !ok {
				logger.Error("the state directory's filesystem is nearly full; grow the volume or free space, writes will fail next", "free_bytes", free)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func newLogger(cfg Config, w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("%sLOG_LEVEL: %w", EnvPrefix, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}

// withPProf serves net/http/pprof's handlers under /debug/pprof/ beside h.
func withPProf(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", h)
	return mux
}

// serviceMetrics are the process's own: readiness and the build.
type serviceMetrics struct {
	ready     prometheus.Gauge
	buildInfo *prometheus.GaugeVec // version, goversion, model_version
}

func newServiceMetrics(reg prometheus.Registerer) *serviceMetrics {
	m := &serviceMetrics{
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "safetynet_ready", Help: "1 when restored, caught up and writing; what /readyz answers.",
		}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "safetynet_build_info", Help: "Always 1; labels give the build and model versions.",
		}, []string{"version", "goversion", "model_version"}),
	}
	reg.MustRegister(m.ready, m.buildInfo)
	return m
}
