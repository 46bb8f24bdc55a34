// Command safetynet watches households at risk of hardship as partner agencies' change events
// arrive on Kafka, and publishes an alert the moment a household's risk score crosses a level.
// This package is the command line: it parses flags and hands over to the packages that do the
// work (internal/app is the service, internal/demo the demo, internal/backtest and its report
// the backtest and fairness reports, internal/bench the bench); internal/cli runs the command
// table. `safetynet -h` lists the subcommands; every one takes -h.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"safetynet/internal/app"
	"safetynet/internal/cli"
	"safetynet/scorer"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

var commands = []*cli.Command{
	{Name: "run", Desc: "run the service; configured by SAFETYNET_* variables (below)", Run: runCmd, More: runHelp},
	{Name: "demo", Args: "[flags]", Desc: "embedded broker + synthetic feeds + service on this machine (make run)", Run: demoCmd},
	{Name: "broker", Args: "[flags]", Desc: "an embedded Kafka-protocol broker with safetynet's topics", Run: brokerCmd},
	{Name: "feedgen", Args: "[flags]", Desc: "produce a synthetic population's feed events to a broker (docs/feedgen.md)", Run: feedgenCmd},
	{Name: "model check", Args: "FILE", Desc: "validate a risk model file, naming the field that is wrong", Run: modelCheckCmd},
	{Name: "model show", Desc: "print the built-in default model", Run: modelShowCmd},
	{Name: "assess", Args: "[flags] HOUSEHOLD.json", Desc: "assess one household (JSON, - for stdin) and explain the result", Run: assessCmd},
	{Name: "state dump", Args: "[flags]", Desc: "print every household as JSON lines, from a stopped instance's state directory or from the changelog topic (-from-changelog, while the instances run)", Run: stateDumpCmd},
	{Name: "backtest", Args: "[flags]", Desc: "re-assess every stored household under a candidate and a baseline model; report what would change (docs/model.md)", Run: backtestCmd},
	{Name: "fairness", Args: "[flags]", Desc: "alert rates per area and group with confidence intervals, small cells suppressed (docs/model.md)", Run: fairnessCmd},
	{Name: "spotcheck", Args: "[flags]", Desc: "reproduce a month's spot check draw from the state or the changelog and compare it with the recorded cases (docs/verifications.md)", Run: spotCheckCmd},
	{Name: "topics create", Args: "[flags]", Desc: "create every topic the cluster lacks (partitions, compaction, retention, replication), then check", Run: topicsCmd},
	{Name: "topics check", Args: "[flags]", Desc: "compare the cluster's topics with the plan and name each difference (exit 1 if any)", Run: topicsCmd},
	{Name: "topics plan", Args: "[flags]", Desc: "print the topic plan (no broker needed)", Run: topicsCmd},
	{Name: "bench", Args: "[flags]", Desc: "measure throughput, latency, memory, cold start and restore (make bench)", Run: benchCmd},
	{Name: "version", Desc: "print the version, the Go version and the built-in model's version", Run: versionCmd},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.ExitCode(dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}

// reloadSignals turns SIGHUP into reload requests for the service (the model file is read
// again) until ctx ends. A request arriving while one is pending is merged with it.
func reloadSignals(ctx context.Context) <-chan struct{} {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()
	return reload
}

// dispatch runs the subcommand args names (internal/cli: -h, usage errors).
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return cli.Dispatch(ctx, commands, args, stdout, stderr)
}

func runCmd(c *cli.Call) error {
	if err := c.Parse(c.Flags(), 0, 0); err != nil {
		return err
	}
	cfg, err := app.LoadConfig(app.EnvironMap(os.Environ()))
	if err != nil {
		return err
	}
	setDefaultMemoryLimit()
	return app.Run(c.Ctx, cfg, app.Options{Stderr: c.Stderr, Version: version, Reload: reloadSignals(c.Ctx)})
}

func runHelp(w io.Writer) {
	fmt.Fprint(w, "Variables (a wrong value or an unknown SAFETYNET_* name stops start-up, naming it):\n")
	app.Help(w)
}

func versionCmd(c *cli.Call) error {
	if err := c.Parse(c.Flags(), 0, 0); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "safetynet %s (%s, model %s)\n", version, runtime.Version(), scorer.Default().Version)
	return nil
}

// defaultMemoryLimit is the Go heap's soft limit for `safetynet run` when GOMEMLIMIT is not set.
// Without it the heap may grow to twice what is live before a collection. The resident anonymous
// memory stays near the limit, and Badger's mapped tables and value log (300–400 MB while
// 1,000,000 households load) come on top of it. Since Badger's table builders stopped holding a
// few hundred MB (third_party/badger/README.md), loading 1,000,000 households takes 30 s instead
// of 75, with the heap under the limit rather than pressed against it; the peak resident memory
// is then 772 MiB at 448 MiB against 832–885 MiB at 512, and the throughput run is no slower
// (docs/performance.md, twelfth round). It is soft: a service that needs more takes more.
const defaultMemoryLimit = 448 << 20

func setDefaultMemoryLimit() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
