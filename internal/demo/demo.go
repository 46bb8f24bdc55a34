// Package demo is `safetynet demo` (what make run runs): on one machine, the embedded broker
// with every topic, the service itself (internal/app) with named demo callers, a synthetic
// population's feeds (stream/feedgen) paced to reach today, simulated caseworkers visiting a
// share of the raised cases, and alerts printed as readable lines. It is for trying safetynet
// out; nothing of it runs in production, and it parses no flags (cmd/safetynet does).
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"safetynet/internal/app"
	"safetynet/stream/embedded"
	"safetynet/stream/feed"
	"safetynet/stream/feedgen"
	"safetynet/stream/feedgen/produce"
	"safetynet/stream/feedgen/visits"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
)

// Options of the demo; cmd/safetynet's demo flags set them.
type Options struct {
	Broker     string        // address of the embedded broker
	HTTP       string        // address of the HTTP API and /metrics
	Dir        string        // state directory, emptied at start
	Households int           // households in the synthetic population
	Rate       float64       // feed change events per second
	Seed       uint64        // seed of the synthetic population
	Partitions int           // partitions of every topic
	Lines      int           // alert lines printed per second at most
	Verbose    bool          // log at info level (default: warnings only)
	VisitShare float64       // share of raised cases the simulated caseworkers visit
	VisitDelay time.Duration // mean wait from an alert to the assignment, and again to the visit
	Version    string        // the binary's version, for the service's build info
}

// Run runs everything on one machine until ctx ends: the embedded broker, a synthetic
// population's feeds, the service and simulated caseworkers, printing alerts as they happen.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	if !strings.HasPrefix(filepath.Clean(o.Dir), "data") && !o.Verbose {
		// Refuse to empty a directory that does not look like demo data.
		if _, err := os.Stat(filepath.Join(o.Dir, "SAFETYNET_FORMAT")); err == nil {
			return fmt.Errorf("demo: -state %s holds a safetynet state directory outside data/; refusing to empty it", o.Dir)
		}
	}
	if err := os.RemoveAll(o.Dir); err != nil {
		return fmt.Errorf("demo: empty %s: %w", o.Dir, err)
	}

	topics := topics.Default()
	broker, err := embedded.Start(o.Broker, o.Partitions, Topics(topics)...)
	if err != nil {
		return fmt.Errorf("demo: %w (is another demo or Kafka on that port? try -broker 127.0.0.1:0)", err)
	}
	defer broker.Close()
	addr := broker.Addrs()[0]

	// Named callers, one per role the demo shows. The caseworker is limited to area 420106 (武昌区,
	// one of the synthetic population's districts); the supervisor sees every area.
	caseworker, supervisor, auditor := randomHex(16), randomHex(16), randomHex(16)
	callers := strings.Join([]string{
		"demo-caseworker:" + caseworker + ":caseworker:420106",
		"demo-supervisor:" + supervisor + ":supervisor",
		"demo-auditor:" + auditor + ":auditor",
	}, ",")
	cfg, err := app.LoadConfig(map[string]string{
		app.EnvPrefix + "KAFKA_BROKERS": addr,
		app.EnvPrefix + "STATE_DIR":     filepath.Join(o.Dir, "state"),
		app.EnvPrefix + "PSEUDONYM_KEY": randomHex(32),
		app.EnvPrefix + "API_TOKENS":    callers,
		app.EnvPrefix + "HTTP_ADDR":     o.HTTP,
		app.EnvPrefix + "LOG_FORMAT":    "text",
		app.EnvPrefix + "LOG_LEVEL":     map[bool]string{true: "info", false: "warn"}[o.Verbose],
	})
	if err != nil {
		return err
	}

	printer := newAlertPrinter(stdout, o.Lines)
	sim := visits.New(visits.Config{Share: o.VisitShare, Delay: o.VisitDelay, Seed: o.Seed,
		Caseworkers: []string{"demo-caseworker", "caseworker-2", "caseworker-3"}})
	onAlert := func(a household.Alert) {
		printer.alert(a)
		sim.Alert(a)
	}
	listening := make(chan string, 1)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return app.Run(gctx, cfg, app.Options{Stderr: stderr, Version: o.Version, OnAlert: onAlert, Listening: listening})
	})
	var api string
	select {
	case api = <-listening:
	case <-gctx.Done():
		return g.Wait()
	}
	fmt.Fprintf(stdout, `safetynet demo
  broker    %s (embedded; topics %s …)
  API       http://%s
  UI        http://%s/ui/   (sign in with a token below: the caseworker's inbox, the supervisor's statistics)
  tokens    supervisor (every area)  SUPERVISOR=%s
            caseworker (area 420106) CASEWORKER=%s
            auditor                  AUDITOR=%s
  try       curl -s -H "Authorization: Bearer $SUPERVISOR" 'http://%s/v1/alerts?level=urgent&limit=3'
            curl -s -H "Authorization: Bearer $SUPERVISOR" http://%s/v1/households/<household_id from an alert>
            curl -s -H "Authorization: Bearer $CASEWORKER" 'http://%s/v1/cases?status=open&limit=3'   (area 420106 only)
            curl -s -H "Authorization: Bearer $AUDITOR" 'http://%s/v1/audit?caller=demo-supervisor'
            curl -s http://%s/metrics | grep ^safetynet_
  feeds     %d households, %.0f events/s, seed %d; stop with Ctrl-C
  visits    %.0f%% of raised cases assigned and visited by simulated caseworkers after ~%s each

`, addr, topics.Registry, api, api, supervisor, caseworker, auditor, api, api, api, api, api, o.Households, o.Rate, o.Seed, o.VisitShare*100, o.VisitDelay)

	g.Go(func() error { return printer.run(gctx) })
	casework := kafkaio.Kafka{Brokers: []string{addr}}.Writer(topics.Casework, kafkaio.HouseholdBalancer())
	defer casework.Close()
	g.Go(func() error {
		return sim.Run(gctx, func(ctx context.Context, key, value []byte) error {
			return casework.WriteMessages(ctx, kafka.Message{Key: key, Value: value})
		})
	})
	g.Go(func() error {
		err := Produce(gctx, addr, topics, feedgen.Config{Seed: o.Seed, Households: o.Households, Start: time.Now().UTC()}, o.Rate, stdout)
		if err != nil && gctx.Err() == nil {
			return fmt.Errorf("demo feeds: %w", err)
		}
		return nil
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Topics are every topic the embedded broker creates: all of them (topics.Topics.All).
func Topics(t topics.Topics) []string { return t.All() }

// Produce sends the population's registry, then its change events at rate until the
// simulated clock reaches today: events after today would be refused as from the future.
func Produce(ctx context.Context, addr string, topics topics.Topics, cfg feedgen.Config, rate float64, stdout io.Writer) error {
	gen := feedgen.New(cfg)
	_, people := gen.Population()
	byFeed := map[string]string{}
	for _, f := range feed.Feeds {
		byFeed[f] = topics.Feed(f)
	}
	registryDone := false
	sent := 0
	err := produce.Run(ctx, []string{addr}, byFeed, gen, produce.Options{
		Rate:  rate,
		Until: time.Now(),
		OnProduced: func(n int) {
			sent = n
			if !registryDone && n >= people {
				registryDone = true
				fmt.Fprintf(stdout, "feeds: registry of %d people sent; now 18 months of hospital, pension, employment, disability and asset changes and aid applications\n", people)
			}
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "feeds: %d events sent, history has reached today; the monitor goes on re-assessing households as time passes\n", sent)
	return nil
}

// alertPrinter prints alerts as one readable line each, at most perSecond lines a second; it
// counts the rest and says how many it skipped.
type alertPrinter struct {
	w         io.Writer
	perSecond int

	mu      sync.Mutex
	printed int
	skipped int
	total   map[string]int
}

func newAlertPrinter(w io.Writer, perSecond int) *alertPrinter {
	return &alertPrinter{w: w, perSecond: perSecond, total: map[string]int{}}
}

func (p *alertPrinter) alert(a household.Alert) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total[a.Status]++
	if p.printed >= p.perSecond {
		p.skipped++
		return
	}
	p.printed++
	fmt.Fprintf(p.w, "%s  %s\n", a.EmittedAt.Format("15:04:05"), a.Summary)
}

func (p *alertPrinter) run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	report := time.NewTicker(15 * time.Second)
	defer report.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			p.mu.Lock()
			p.printed = 0
			p.mu.Unlock()
		case <-report.C:
			p.mu.Lock()
			if p.skipped > 0 {
				fmt.Fprintf(p.w, "… %d more alerts not printed (raised %d, escalated %d, deescalated %d, resolved %d so far); list them at /v1/alerts\n",
					p.skipped, p.total[household.StatusRaised], p.total[household.StatusEscalated], p.total[household.StatusDeescalated], p.total[household.StatusResolved])
				p.skipped = 0
			}
			p.mu.Unlock()
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
