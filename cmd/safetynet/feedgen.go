package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"safetynet/internal/app"
	"safetynet/internal/cli"
	"safetynet/stream/feed"
	"safetynet/stream/feedgen"
	"safetynet/stream/feedgen/produce"
)

// feedgenCmd produces a synthetic population's feed events to a Kafka cluster: the registry
// first, then the change events, at a rate, until a limit or Ctrl-C. Brokers, TLS, SASL and topic
// names come from the same SAFETYNET_* variables as `run`; flags override the brokers.
func feedgenCmd(cl *cli.Call) error {
	ctx, stdout, stderr := cl.Ctx, cl.Stdout, cl.Stderr
	var c app.Config
	if err := app.ParseEnv(&c, app.EnvironMap(os.Environ())); err != nil {
		return err
	}
	fs := cl.Flags()
	brokers := fs.String("brokers", strings.Join(c.KafkaBrokers, ","), "Kafka bootstrap brokers, comma-separated (default from SAFETYNET_KAFKA_BROKERS)")
	households := fs.Int("households", feedgen.DefaultHouseholds, "households in the population (about 1.63 people each)")
	seed := fs.Uint64("seed", 1, "seed of the population and its history; the same flags give the same events")
	rate := fs.Float64("rate", 0, "change events per second, 0 for as fast as possible (the registry is always sent at full speed)")
	limit := fs.Int("limit", 0, "change events to send after the registry, 0 for no limit")
	malformed := fs.Float64("malformed", feedgen.DefaultMalformedRate, "fraction of malformed events (0 for none)")
	duplicates := fs.Float64("duplicates", feedgen.DefaultDuplicateRate, "fraction of resent events (0 for none)")
	unknown := fs.Float64("unknown", feedgen.DefaultUnknownPersonRate, "fraction of events about people not in the registry (0 for none)")
	startFlag := fs.String("start", "", "the simulated now, RFC 3339 or YYYY-MM-DD: events begin 18 months before it (default today)")
	untilStart := fs.Bool("until-start", false, "stop when the simulated clock reaches -start (later events would be refused as from the future when -start is today)")
	skipRegistry := fs.Bool("skip-registry", false, "do not send the registry (it was sent by an earlier run)")
	noAssets := fs.Bool("no-assets", false, "leave out the assets feed (deposits, provident fund, vehicle, property and business registrations)")
	noApplications := fs.Bool("no-applications", false, "leave out the applications feed (aid applications with their declarations and decisions)")
	misstatements := fs.Float64("misstatements", feedgen.DefaultMisstatementRate, "share of applications whose declaration hides a wage, a vehicle, a business or deposits (0 for none)")
	if err := cl.Parse(fs, 0, 0); err != nil {
		return err
	}
	start := time.Now().UTC().Truncate(24 * time.Hour)
	if *startFlag != "" {
		var err error
		if start, err = parseFeedgenStart(*startFlag); err != nil {
			return cl.BadFlag("-start: %v", err)
		}
	}
	if *households <= 0 {
		return cl.BadFlag("-households %d: want at least 1", *households)
	}
	for name, v := range map[string]float64{"malformed": *malformed, "duplicates": *duplicates, "unknown": *unknown} {
		if v < 0 || v > 0.5 {
			return cl.BadFlag("-%s %v: want a fraction from 0 to 0.5", name, v)
		}
	}
	if *misstatements < 0 || *misstatements > 1 {
		return cl.BadFlag("-misstatements %v: want a share from 0 to 1", *misstatements)
	}
	if *rate < 0 || *limit < 0 {
		return cl.BadFlag("-rate and -limit must not be negative")
	}
	c.KafkaBrokers = splitBrokers(*brokers)
	if len(c.KafkaBrokers) == 0 {
		return cl.BadFlag("no brokers (-brokers or SAFETYNET_KAFKA_BROKERS)")
	}
	k, err := c.Kafka()
	if err != nil {
		return err
	}
	topics := map[string]string{}
	for _, f := range feed.Feeds {
		topics[f] = c.Topics.Feed(f)
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("cmd", "feedgen")
	g := feedgen.New(feedgen.Config{
		Seed:              *seed,
		Households:        *households,
		Start:             start,
		MalformedRate:     feedgenRate(*malformed),
		DuplicateRate:     feedgenRate(*duplicates),
		UnknownPersonRate: feedgenRate(*unknown),
		NoAssets:          *noAssets,
		NoApplications:    *noApplications,
		MisstatementRate:  feedgenRate(*misstatements),
	})
	nh, np := g.Population()
	fmt.Fprintf(stdout, "feedgen: %d households, %d people, seed %d; events from %s; to %s\n",
		nh, np, *seed, start.Add(-feedgen.History).Format(time.DateOnly), strings.Join(c.KafkaBrokers, ","))
	opts := produce.Options{
		Rate:         *rate,
		Limit:        *limit,
		SkipRegistry: *skipRegistry,
		Logger:       logger,
		Transport:    k.Transport(),
	}
	if *untilStart {
		opts.Until = start
	}
	var sent int
	opts.OnProduced = func(n int) { sent = n }
	err = produce.Run(ctx, c.KafkaBrokers, topics, g, opts)
	fmt.Fprintf(stdout, "feedgen: %d events acknowledged; simulated clock at %s\n", sent, g.Now().Format(time.RFC3339))
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // Ctrl-C: a normal end
	}
	return err
}

// feedgenRate maps the flag's 0 (none) to the generator's "none" (negative).
func feedgenRate(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}

func parseFeedgenStart(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t, nil
}

func splitBrokers(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
