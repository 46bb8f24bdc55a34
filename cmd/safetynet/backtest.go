package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"safetynet/internal/app"
	"safetynet/internal/backtest"
	"safetynet/internal/backtest/report"
	"safetynet/internal/cli"
	"safetynet/scorer"
	"safetynet/stream/kafkaio"
)

// sourceFlags are the flags that say where the households come from: a state directory (read
// only; a stopped instance's, or a restored backup) or the changelog topic (a live instance).
type sourceFlags struct {
	dir, brokers  *string
	fromChangelog *bool
}

func addSourceFlags(fs *flag.FlagSet) sourceFlags {
	return sourceFlags{
		dir:           fs.String("state", "", "state directory to read (read-only; not a running instance's: use -from-changelog for that)"),
		brokers:       fs.String("brokers", "", "bootstrap brokers for -from-changelog and -replay-from (default SAFETYNET_KAFKA_BROKERS)"),
		fromChangelog: fs.Bool("from-changelog", false, "read every household's newest state from the changelog topic (SAFETYNET_TOPIC_CHANGELOG) instead of a state directory"),
	}
}

// open returns the source and a function to close it.
func (s sourceFlags) open(c *cli.Call, progress io.Writer) (backtest.Source, func(), error) {
	if *s.fromChangelog == (*s.dir != "") {
		return nil, nil, c.BadFlag("give either -state DIR or -from-changelog")
	}
	if *s.fromChangelog {
		cl, err := loadChangelog(c, *s.brokers, progress)
		if err != nil {
			return nil, nil, err
		}
		return cl, func() {}, nil
	}
	key, err := stateKey()
	if err != nil {
		return nil, nil, err
	}
	return backtest.OpenState(*s.dir, key)
}

// kafka is the service's configuration (the environment, -brokers over
// SAFETYNET_KAFKA_BROKERS) and its Kafka connection, for what needs a broker.
func (s sourceFlags) kafka(c *cli.Call, what string) (app.Config, kafkaio.Kafka, error) {
	return kafkaConfig(c, *s.brokers, what)
}

// kafkaConfig is the service's configuration from the environment, with brokers (when given)
// over SAFETYNET_KAFKA_BROKERS, and its Kafka connection; what names the flag that needs it.
func kafkaConfig(c *cli.Call, brokers, what string) (app.Config, kafkaio.Kafka, error) {
	environ := app.EnvironMap(os.Environ())
	if brokers != "" {
		environ[app.EnvPrefix+"KAFKA_BROKERS"] = brokers
	}
	var cfg app.Config
	if err := app.ParseEnv(&cfg, environ); err != nil {
		return cfg, kafkaio.Kafka{}, err
	}
	if len(cfg.KafkaBrokers) == 0 {
		return cfg, kafkaio.Kafka{}, c.BadFlag("%s needs -brokers or %sKAFKA_BROKERS", what, app.EnvPrefix)
	}
	k, err := cfg.Kafka()
	return cfg, k, err
}

// loadChangelog reads every household's newest state from the changelog topic named by the
// environment (SAFETYNET_TOPIC_CHANGELOG), on brokers (default SAFETYNET_KAFKA_BROKERS), with
// the environment's Kafka settings (TLS, SASL); progress goes to progress.
func loadChangelog(c *cli.Call, brokers string, progress io.Writer) (*backtest.Changelog, error) {
	cfg, k, err := kafkaConfig(c, brokers, "-from-changelog")
	if err != nil {
		return nil, err
	}
	return backtest.LoadChangelog(c.Ctx, k, cfg.Topics.Changelog, progress)
}

// stateKey is SAFETYNET_STATE_ENCRYPTION_KEY, decoded: nil when unset.
func stateKey() ([]byte, error) {
	k := os.Getenv(app.EnvPrefix + "STATE_ENCRYPTION_KEY")
	if k == "" {
		return nil, nil
	}
	key, err := hex.DecodeString(k)
	if err != nil {
		return nil, fmt.Errorf("%sSTATE_ENCRYPTION_KEY: not hex: %w", app.EnvPrefix, err)
	}
	return key, nil
}

func loadModel(c *cli.Call, flagName, path string) (*scorer.Model, error) {
	if path == "" {
		if p := os.Getenv(app.EnvPrefix + "MODEL_FILE"); p != "" {
			path = p
		} else {
			return scorer.Default(), nil
		}
	}
	m, err := scorer.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-%s %s: %w", flagName, path, err)
	}
	return m, nil
}

func parseAt(c *cli.Call, s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC(), nil
	}
	return parseTimeFlag(c, "at", s)
}

func parseTimeFlag(c *cli.Call, name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, c.BadFlag("-%s %q: want RFC 3339, e.g. 2025-06-30T00:00:00Z", name, s)
	}
	return t, nil
}

func fairnessFlags(fs *flag.FlagSet) (low, high *float64, minCell *int) {
	return fs.Float64("fair-low", 0.8, "fairness: a cell's rate ratio below this is listed first"),
		fs.Float64("fair-high", 1.25, "fairness: a cell's rate ratio above this is listed first"),
		fs.Int("min-cell", 10, "cells with fewer households are suppressed (privacy)")
}

// backtestCmd runs `safetynet backtest`: both models over every stored household.
func backtestCmd(c *cli.Call) error {
	fs := c.Flags()
	modelPath := fs.String("model", "", "the candidate model file (required)")
	baselinePath := fs.String("baseline", "", "the current model file (default $SAFETYNET_MODEL_FILE, else the built-in model)")
	src := addSourceFlags(fs)
	at := fs.String("at", "", "assess at this instant, RFC 3339 (default: now)")
	out := fs.String("out", "", "directory for report.json and report.html (required)")
	areaPrefix := fs.Int("area-prefix", 6, "characters of the area code that make an area in the breakdown (2 province, 4 city, 6 county)")
	top := fs.Int("top", 20, "changes listed in the summary")
	replayFrom := fs.String("replay-from", "", "also replay the household-events topic (SAFETYNET_TOPIC_HOUSEHOLD_EVENTS; from its oldest retained record) through both models and count the alerts raised per week from this instant, RFC 3339; needs -brokers")
	low, high, minCell := fairnessFlags(fs)
	if err := c.Parse(fs, 0, 0); err != nil {
		return err
	}
	var (
		from        time.Time
		replayCfg   app.Config
		replayKafka kafkaio.Kafka
	)
	if *replayFrom != "" {
		var err error
		if from, err = parseTimeFlag(c, "replay-from", *replayFrom); err != nil {
			return err
		}
		if !from.Before(time.Now()) {
			return c.BadFlag("-replay-from %s is not in the past", *replayFrom)
		}
		if replayCfg, replayKafka, err = src.kafka(c, "-replay-from"); err != nil {
			return err
		}
	}
	if *modelPath == "" {
		return c.BadFlag("-model: the candidate model file is required")
	}
	if *out == "" {
		return c.BadFlag("-out: an output directory is required")
	}
	fo := backtest.FairnessOptions{Low: *low, High: *high, MinCell: *minCell}
	if err := fo.Check(); err != nil {
		return c.BadFlag("%v", err)
	}
	m, err := loadModel(c, "model", *modelPath)
	if err != nil {
		return err
	}
	base, err := loadModel(c, "baseline", *baselinePath)
	if err != nil {
		return err
	}
	t, err := parseAt(c, *at)
	if err != nil {
		return err
	}
	source, closeSrc, err := src.open(c, c.Stderr)
	if err != nil {
		return err
	}
	defer closeSrc()
	p := backtest.NewProgress(c.Stderr, "households")
	r, err := backtest.Run(source, backtest.Options{Baseline: base, Model: m, At: t, AreaPrefix: *areaPrefix,
		Fairness: fo, Progress: func(n int) { p.Update(n, 0) }})
	if err != nil {
		return err
	}
	p.Done()
	if *replayFrom != "" {
		rp := backtest.NewProgress(c.Stderr, "household events replayed")
		r.Replay, err = backtest.RunReplay(c.Ctx, backtest.ReplayOptions{Kafka: replayKafka, Topic: replayCfg.Topics.HouseholdEvents,
			Baseline: base, Model: m, From: from, MaxMembers: replayCfg.MaxHouseholdMembers,
			Progress: func(done, total int64) { rp.Update(int(done), int(total)) }})
		if err != nil {
			return err
		}
		rp.Done()
	}
	if err := report.WriteDir(*out, r); err != nil {
		return err
	}
	report.Summary(c.Stdout, r, *top)
	fmt.Fprintf(c.Stdout, "\nwrote %s/report.json and %s/report.html\n", *out, *out)
	return nil
}

// fairnessCmd runs `safetynet fairness`: alert rates per area and group of the stored levels
// (or of a model's re-assessment with -model).
func fairnessCmd(c *cli.Call) error {
	fs := c.Flags()
	src := addSourceFlags(fs)
	modelPath := fs.String("model", "", "re-assess with this model file instead of reading the stored levels")
	at := fs.String("at", "", "with -model: assess at this instant, RFC 3339 (default: now)")
	out := fs.String("out", "", "directory for fairness.json and fairness.html (required)")
	areaPrefix := fs.Int("area-prefix", 6, "characters of the area code that make an area (2 province, 4 city, 6 county)")
	low, high, minCell := fairnessFlags(fs)
	if err := c.Parse(fs, 0, 0); err != nil {
		return err
	}
	if *out == "" {
		return c.BadFlag("-out: an output directory is required")
	}
	fo := backtest.FairnessOptions{Low: *low, High: *high, MinCell: *minCell}
	if err := fo.Check(); err != nil {
		return c.BadFlag("%v", err)
	}
	var m *scorer.Model
	if *modelPath != "" {
		var err error
		if m, err = loadModel(c, "model", *modelPath); err != nil {
			return err
		}
	}
	t, err := parseAt(c, *at)
	if err != nil {
		return err
	}
	source, closeSrc, err := src.open(c, c.Stderr)
	if err != nil {
		return err
	}
	defer closeSrc()
	p := backtest.NewProgress(c.Stderr, "households")
	subjects, err := backtest.Subjects(source, m, t, *areaPrefix, func(n int) { p.Update(n, 0) })
	if err != nil {
		return err
	}
	p.Update(len(subjects), 0)
	p.Done()
	f := backtest.ComputeFairness(subjects, fo)
	if m != nil && len(subjects) > 0 {
		f.ModelVersion = m.Version
	}
	o := backtest.PrecisionRecall(nil, nil)
	if err := report.WriteFairnessDir(*out, f, o); err != nil {
		return err
	}
	report.FairnessSummary(c.Stdout, f)
	report.OutcomeSummary(c.Stdout, o)
	fmt.Fprintf(c.Stdout, "\nwrote %s/fairness.json and %s/fairness.html\n", *out, *out)
	return nil
}
