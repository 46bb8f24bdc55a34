// Command safetynet watches households at risk of hardship as partner agencies' change events
// arrive on Kafka, and publishes an alert the moment a household's risk score crosses a level.
// This package is the command line: it parses flags and hands over to the packages that do the
// work (internal/app is the service, internal/bench the bench). `safetynet -h` lists the
// subcommands; every one takes -h.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"safetynet/internal/app"
	"safetynet/scorer"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

// command is one subcommand: its name ("model check"), its arguments as the usage line shows
// them, a one-line description, and what runs it.
type command struct {
	name, args, desc string
	run              func(c *call) error
	more             func(w io.Writer) // more help after the flags (run: the variables)
}

var commands = []*command{
	{name: "run", desc: "run the service; configured by SAFETYNET_* variables (below)", run: runCmd, more: runHelp},
	{name: "demo", args: "[flags]", desc: "embedded broker + synthetic feeds + service on this machine (make run)", run: demoCmd},
	{name: "broker", args: "[flags]", desc: "an embedded Kafka-protocol broker with safetynet's topics", run: brokerCmd},
	{name: "feedgen", args: "[flags]", desc: "produce a synthetic population's feed events to a broker (docs/feedgen.md)", run: feedgenCmd},
	{name: "model check", args: "FILE", desc: "validate a risk model file, naming the field that is wrong", run: modelCheckCmd},
	{name: "model show", desc: "print the built-in default model", run: modelShowCmd},
	{name: "assess", args: "[flags] HOUSEHOLD.json", desc: "assess one household (JSON, - for stdin) and explain the result", run: assessCmd},
	{name: "state dump", args: "[flags]", desc: "print every household as JSON lines, from a stopped instance's state directory or from the changelog topic (-from-changelog, while the instances run)", run: stateDumpCmd},
	{name: "backtest", args: "[flags]", desc: "re-assess every stored household under a candidate and a baseline model; report what would change (docs/model.md)", run: backtestCmd},
	{name: "spotcheck", args: "[flags]", desc: "reproduce a month's spot check draw from the state or the changelog and compare it with the recorded cases (docs/verifications.md)", run: spotCheckCmd},
	{name: "fairness", args: "[flags]", desc: "alert rates per area and group with confidence intervals, small cells suppressed (docs/model.md)", run: fairnessCmd},
	{name: "topics create", args: "[flags]", desc: "create every topic the cluster lacks (partitions, compaction, retention, replication), then check", run: topicsCmd},
	{name: "topics check", args: "[flags]", desc: "compare the cluster's topics with the plan and name each difference (exit 1 if any)", run: topicsCmd},
	{name: "topics plan", args: "[flags]", desc: "print the topic plan (no broker needed)", run: topicsCmd},
	{name: "bench", args: "[flags]", desc: "measure throughput, latency, memory and cold start (make bench)", run: benchCmd},
	{name: "version", desc: "print the version, the Go version and the built-in model's version", run: versionCmd},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitCode(dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
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

// exitCode is 0 for success and help, 2 for a usage error, 1 for any other error.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil || errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "safetynet: %s\n%s\n", ue.msg, ue.hint)
		return 2
	}
	fmt.Fprintln(stderr, "safetynet:", err)
	return 1
}

// errHelp: help was asked for and printed.
var errHelp = errors.New("help printed")

// usageError is a command line that does not parse: unknown subcommand, bad flag, missing or
// extra argument.
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }

// dispatch runs the subcommand args names.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{"no command given", "Run 'safetynet -h' for the commands."}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, topUsage(""))
		return errHelp
	}
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c.run(&call{ctx: ctx, cmd: c, args: args[len(words):], stdout: stdout, stderr: stderr})
		}
	}
	// A group ("model", "state") without or with an unknown subcommand.
	group := ""
	for _, c := range commands {
		if g, _, ok := strings.Cut(c.name, " "); ok && g == args[0] {
			group = g
		}
	}
	if group != "" {
		if len(args) > 1 && (args[1] == "-h" || args[1] == "-help" || args[1] == "--help") {
			fmt.Fprint(stdout, topUsage(group))
			return errHelp
		}
		if len(args) == 1 {
			return &usageError{group + ": no subcommand given", "Run 'safetynet " + group + " -h' for its subcommands."}
		}
		return &usageError{fmt.Sprintf("%s: unknown subcommand %q", group, args[1]), "Run 'safetynet " + group + " -h' for its subcommands."}
	}
	return &usageError{fmt.Sprintf("unknown command %q", args[0]), "Run 'safetynet -h' for the commands."}
}

// topUsage lists the commands (of a group, when given).
func topUsage(group string) string {
	var b strings.Builder
	name := strings.TrimSpace("safetynet " + group)
	fmt.Fprintf(&b, "Usage: %s <command> [arguments]\n\n", name)
	if group == "" {
		b.WriteString("safetynet watches households at risk of hardship as partner agencies' change events arrive\non Kafka, and alerts the moment a household's risk score crosses a level.\n\n")
	}
	b.WriteString("Commands:\n")
	for _, c := range commands {
		if group == "" || strings.HasPrefix(c.name, group+" ") {
			fmt.Fprintf(&b, "  %-14s %s\n", c.name, c.desc)
		}
	}
	fmt.Fprintf(&b, "\nRun '%s <command> -h' for a command's flags.\n", name)
	return b.String()
}

// call is one run of a command.
type call struct {
	ctx            context.Context
	cmd            *command
	args           []string
	stdout, stderr io.Writer
}

// flags returns the command's flag set; parse it with c.parse.
func (c *call) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors; -h prints to stdout
	return fs
}

// parse parses the flags, then checks the count of the other arguments against min and max
// (max < 0: no limit). -h prints the command's help to stdout and returns errHelp.
func (c *call) parse(fs *flag.FlagSet, minArgs, maxArgs int) error {
	hint := "Run 'safetynet " + c.cmd.name + " -h' for usage."
	if err := fs.Parse(c.args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.help(fs)
			return errHelp
		}
		return &usageError{c.cmd.name + ": " + err.Error(), hint}
	}
	switch n := fs.NArg(); {
	case n < minArgs:
		return &usageError{fmt.Sprintf("%s: missing argument %s", c.cmd.name, c.cmd.args[strings.LastIndex(c.cmd.args, " ")+1:]), hint}
	case maxArgs >= 0 && n > maxArgs:
		return &usageError{fmt.Sprintf("%s: unexpected argument %q", c.cmd.name, fs.Arg(maxArgs)), hint}
	}
	return nil
}

// badFlag is a usage error for a flag's value.
func (c *call) badFlag(f string, a ...any) error {
	return &usageError{c.cmd.name + ": " + fmt.Sprintf(f, a...), "Run 'safetynet " + c.cmd.name + " -h' for usage."}
}

// help prints the command's help: usage line, description, flags, and more.
func (c *call) help(fs *flag.FlagSet) {
	w := c.stdout
	fmt.Fprintf(w, "Usage: safetynet %s\n\n%s.\n", strings.TrimSpace(c.cmd.name+" "+c.cmd.args), strings.ToUpper(c.cmd.desc[:1])+c.cmd.desc[1:])
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if c.cmd.more != nil {
		fmt.Fprintln(w)
		c.cmd.more(w)
	}
}

func runCmd(c *call) error {
	if err := c.parse(c.flags(), 0, 0); err != nil {
		return err
	}
	cfg, err := app.LoadConfig(app.EnvironMap(os.Environ()))
	if err != nil {
		return err
	}
	setDefaultMemoryLimit()
	return app.Run(c.ctx, cfg, app.Options{Stderr: c.stderr, Version: version, Reload: reloadSignals(c.ctx)})
}

func runHelp(w io.Writer) {
	fmt.Fprint(w, "Variables (a wrong value or an unknown SAFETYNET_* name stops start-up, naming it):\n")
	app.Help(w)
}

func versionCmd(c *call) error {
	if err := c.parse(c.flags(), 0, 0); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "safetynet %s (%s, model %s)\n", version, runtime.Version(), scorer.Default().Version)
	return nil
}

// defaultMemoryLimit is the Go heap's soft limit for `safetynet run` when GOMEMLIMIT is not set.
// Without it the heap may grow to twice what is live before a collection, and while loading a
// large registry Badger's compactions briefly hold a few hundred MB of table buffers. With the
// limit the peak resident memory loading 1,000,000 households is about 1 GiB (Badger's mapped
// tables come on top of the heap), for a little more collection work (the collector's share of
// the CPU 19% → 21%). It is soft: a service that needs more takes more.
const defaultMemoryLimit = 640 << 20

func setDefaultMemoryLimit() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
