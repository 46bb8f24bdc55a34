package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"safetynet/internal/bench"
	"safetynet/internal/cli"
)

// benchCmd parses the bench's flags and runs it (internal/bench) against this binary.
func benchCmd(c *cli.Call) error {
	fs := c.Flags()
	o := bench.Options{}
	fs.IntVar(&o.Events, "events", 1_000_000, "change events of the end-to-end throughput run")
	fs.IntVar(&o.Households, "households", 130_000, "households of the throughput and latency runs")
	fs.IntVar(&o.StateHouseholds, "state-households", 1_000_000, "households in state for the memory and cold-start runs")
	fs.DurationVar(&o.LatencyFor, "latency-for", 20*time.Second, "how long each offered load of the latency runs lasts")
	fs.IntVar(&o.Partitions, "partitions", 4, "partitions of every topic")
	fs.StringVar(&o.Dir, "dir", "data/bench", "working directory (emptied at start)")
	fs.StringVar(&o.Out, "out", "docs/benchmarks.md", "report file (empty: print only)")
	fs.BoolVar(&o.Profile, "profile", false, "save CPU and allocation profiles of the service (the throughput run, loading the big state, and the restore) in -dir, from its /debug/pprof")
	quick := fs.Bool("quick", false, "a tiny run (seconds): 20,000 events, 2,000 households, 5,000 in state, 2 s per load")
	if err := c.Parse(fs, 0, 0); err != nil {
		return err
	}
	if *quick { // tiny defaults; sizes given explicitly still win
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, p := range map[string]*int{"events": &o.Events, "households": &o.Households, "state-households": &o.StateHouseholds} {
			if !set[name] {
				*p = map[string]int{"events": 20_000, "households": 2_000, "state-households": 5_000}[name]
			}
		}
		if !set["latency-for"] {
			o.LatencyFor = 2 * time.Second
		}
	}
	if o.Events < 1 || o.Households < 1 || o.StateHouseholds < 1 || o.Partitions < 1 {
		return c.BadFlag("-events, -households, -state-households and -partitions must be positive")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: the service binary: %w", err)
	}
	o.Binary = exe
	return bench.Run(c.Ctx, o, c.Stdout)
}
