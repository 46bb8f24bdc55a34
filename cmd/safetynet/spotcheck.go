package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"safetynet/internal/app"
	"safetynet/internal/backtest"
	"safetynet/internal/cli"
	"safetynet/stream/feed"
)

// spotCheckCmd runs `safetynet spotcheck`: a month's spot check draw reproduced offline from the
// state (a directory or the changelog) with household.SpotCheckDraw, the rule the monitor
// applies online, and compared with the spot check cases the households record.
func spotCheckCmd(c *cli.Call) error {
	fs := c.Flags()
	month := fs.String("month", "", "the month of the draw, YYYY-MM (required)")
	seed := fs.String("seed", "", "the draw's seed (default $SAFETYNET_SPOTCHECK_SEED, else the model's aid.spot_check_seed)")
	shareFlag := fs.String("share", "", "the share drawn, 0 to 1 (default the model's aid.spot_check_share)")
	modelPath := fs.String("model", "", "model file for the seed and share (default $SAFETYNET_MODEL_FILE, else the built-in model)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	src := addSourceFlags(fs)
	if err := c.Parse(fs, 0, 0); err != nil {
		return err
	}
	if *month == "" {
		return c.BadFlag("-month is required (YYYY-MM)")
	}
	if _, err := time.Parse(feed.MonthLayout, *month); err != nil {
		return c.BadFlag("-month %q: want YYYY-MM, e.g. 2026-11", *month)
	}
	share := new(float64)
	if *shareFlag != "" {
		v, err := strconv.ParseFloat(*shareFlag, 64)
		if err != nil || v < 0 || v > 1 || v != v {
			return c.BadFlag("-share %q: want a share from 0 to 1", *shareFlag)
		}
		*share = v
	}
	m, err := loadModel(c, "model", *modelPath)
	if err != nil {
		return err
	}
	if *shareFlag == "" {
		*share = m.Aid().SpotCheckShare
	}
	if *seed == "" {
		*seed = os.Getenv(app.EnvPrefix + "SPOTCHECK_SEED")
	}
	if *seed == "" {
		*seed = m.Aid().SpotCheckSeed
	}
	if *seed == "" {
		return c.BadFlag("no seed: give -seed, or set %sSPOTCHECK_SEED or the model's aid.spot_check_seed", app.EnvPrefix)
	}
	source, closeSrc, err := src.open(c, c.Stderr)
	if err != nil {
		return err
	}
	defer closeSrc()
	sc, err := backtest.DrawSpotCheck(source, *seed, *month, *share)
	if err != nil {
		return err
	}
	if *asJSON {
		out := struct {
			Seed      string                        `json:"seed"`
			Month     string                        `json:"month"`
			Share     float64                       `json:"share"`
			InDraw    int                           `json:"in_draw"`
			Drawn     []backtest.SpotCheckHousehold `json:"drawn"`
			Areas     []backtest.SpotCheckArea      `json:"areas"`
			Cases     int                           `json:"cases_recorded"`
			Unmatched []string                      `json:"unmatched"`
		}{sc.Seed, sc.Month, sc.Share, sc.InDraw, sc.Drawn, sc.Areas, sc.Cases, sc.Unmatched}
		if out.Drawn == nil {
			out.Drawn = []backtest.SpotCheckHousehold{}
		}
		if out.Areas == nil {
			out.Areas = []backtest.SpotCheckArea{}
		}
		if out.Unmatched == nil {
			out.Unmatched = []string{}
		}
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printSpotCheck(c, sc)
	}
	if len(sc.Unmatched) > 0 {
		return fmt.Errorf("spotcheck %s: %d difference(s) between the draw and the recorded cases", sc.Month, len(sc.Unmatched))
	}
	return nil
}

func printSpotCheck(c *cli.Call, sc *backtest.SpotCheck) {
	w := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "seed\t%s\nmonth\t%s\nshare\t%v\n", sc.Seed, sc.Month, sc.Share)
	fmt.Fprintf(w, "in the draw\t%d households receiving aid at %s-01T00:00:00Z\n", sc.InDraw, sc.Month)
	fmt.Fprintf(w, "drawn\t%d\n\n", len(sc.Drawn))
	fmt.Fprintln(w, "household\tarea\tvalue\tcase")
	for _, d := range sc.Drawn {
		cs := d.Case
		if cs == "" {
			cs = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%.6f\t%s\n", d.ID, d.Area, d.Value, cs)
	}
	fmt.Fprintln(w, "\narea\tin draw\tdrawn")
	for _, a := range sc.Areas {
		fmt.Fprintf(w, "%s\t%d\t%d\n", a.Area, a.InDraw, a.Drawn)
	}
	w.Flush()
	fmt.Fprintf(c.Stdout, "\nspot check cases recorded for %s: %d\n", sc.Month, sc.Cases)
	if len(sc.Unmatched) == 0 {
		fmt.Fprintln(c.Stdout, "the recorded cases are exactly the draw")
		return
	}
	fmt.Fprintf(c.Stdout, "differences between the draw and the recorded cases (%d):\n", len(sc.Unmatched))
	for _, u := range sc.Unmatched {
		fmt.Fprintln(c.Stdout, "  "+u)
	}
}
