// Command safetynet watches households at risk of hardship as partner agencies' change events
// arrive on Kafka, and publishes an alert the moment a household's risk score crosses a level.
//
//	safetynet run                 the service (configured by SAFETYNET_* variables)
//	safetynet demo                everything on one machine: embedded broker, synthetic feeds, service
//	safetynet broker              an embedded Kafka-protocol broker with the topics created
//	safetynet feedgen             a synthetic population producing feed events to any broker
//	safetynet model check FILE    validate a model file; `model show` prints the default model
//	safetynet assess FILE.json    assess one household given as JSON, and explain it
//	safetynet state dump          print every household in a state directory, one JSON per line
//	safetynet topics create       create (or check) every topic with its partitions, retention, replication
//	safetynet bench               throughput, latency, memory and cold start against the limits
//	safetynet version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

const usage = `usage: safetynet <command> [arguments]

commands:
  run                 run the service; configuration from SAFETYNET_* variables (see README.md)
  demo                embedded broker + synthetic feeds + service on this machine (make run)
  broker              an embedded Kafka-protocol broker with safetynet's topics
  feedgen             produce a synthetic population's feed events to a broker
  model check FILE    validate a risk model file
  model show          print the built-in default model
  assess FILE.json    assess one household (JSON) and explain the result
  state dump          print every household of a state directory as JSON lines
  topics create|check create the topics on a cluster, or check them against the plan
  bench               measure throughput, latency, memory and cold start (make bench)
  version             print the version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startBenchProfile()
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "safetynet:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	rest := args[1:]
	switch args[0] {
	case "run":
		cfg, err := loadConfig(environMap(os.Environ()))
		if err != nil {
			return err
		}
		setDefaultMemoryLimit()
		return run(ctx, cfg, runOptions{stdout: stdout, stderr: stderr})
	case "demo":
		return demoCmd(ctx, rest, stdout, stderr)
	case "broker":
		return brokerCmd(ctx, rest, stdout, stderr)
	case "feedgen":
		return feedgenCmd(ctx, rest, stdout, stderr)
	case "model":
		return modelCmd(rest, stdout, stderr)
	case "assess":
		return assessCmd(rest, stdout, stderr)
	case "state":
		return stateCmd(rest, stdout, stderr)
	case "bench":
		return benchCmd(ctx, rest, stdout, stderr)
	case "topics":
		return topicsCmd(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "safetynet %s (%s)\n", version, runtime.Version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "safetynet: unknown command %q\n\n%s", args[0], usage)
	return errUsage
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
