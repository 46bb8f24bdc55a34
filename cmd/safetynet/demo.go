package main

import (
	"time"

	"safetynet/internal/cli"
	"safetynet/internal/demo"
	"safetynet/stream/feedgen"
)

// demoCmd runs everything on one machine (internal/demo): the embedded broker, a synthetic
// population's feeds, and the service, printing alerts as they happen.
func demoCmd(c *cli.Call) error {
	fs := c.Flags()
	o := demo.Options{Version: version}
	fs.StringVar(&o.Broker, "broker", "127.0.0.1:9092", "address of the embedded broker")
	fs.StringVar(&o.HTTP, "http", "127.0.0.1:8080", "address of the HTTP API and /metrics")
	fs.StringVar(&o.Dir, "state", "data/demo", "state directory (emptied at start: the embedded broker starts empty too)")
	fs.IntVar(&o.Households, "households", feedgen.DefaultHouseholds, "households in the synthetic population")
	fs.Float64Var(&o.Rate, "rate", 2000, "feed change events per second (the registry is sent first, unpaced)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the synthetic population")
	fs.IntVar(&o.Partitions, "partitions", 4, "partitions of every topic")
	fs.IntVar(&o.Lines, "lines", 5, "alert lines printed per second at most (the rest are counted)")
	fs.BoolVar(&o.Verbose, "v", false, "log at info level (default: warnings only)")
	fs.Float64Var(&o.VisitShare, "visit-share", 0.6, "share of the cases opened by raised alerts that simulated caseworkers assign and visit (0 to 1)")
	fs.DurationVar(&o.VisitDelay, "visit-delay", 20*time.Second, "mean wait from an alert to the simulated assignment, and again to the visit")
	if err := c.Parse(fs, 0, 0); err != nil {
		return err
	}
	if o.VisitShare < 0 || o.VisitShare > 1 {
		return c.BadFlag("-visit-share %g: want a share from 0 to 1", o.VisitShare)
	}
	if o.VisitDelay <= 0 {
		return c.BadFlag("-visit-delay %s: want a positive duration", o.VisitDelay)
	}
	return demo.Run(c.Ctx, o, c.Stdout, c.Stderr)
}
