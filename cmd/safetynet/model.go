package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"safetynet/internal/cli"
	"safetynet/scorer"
)

// modelCheckCmd runs `safetynet model check FILE`.
func modelCheckCmd(c *cli.Call) error {
	fs := c.Flags()
	if err := c.Parse(fs, 1, 1); err != nil {
		return err
	}
	m, err := scorer.LoadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	fmt.Fprintf(c.Stdout, "ok: %s\n", m.Summary())
	return nil
}

// modelShowCmd runs `safetynet model show`.
func modelShowCmd(c *cli.Call) error {
	if err := c.Parse(c.Flags(), 0, 0); err != nil {
		return err
	}
	_, err := c.Stdout.Write(scorer.DefaultYAML())
	return err
}

// assessCmd runs `safetynet assess [-model FILE] [-at RFC3339] [-prev LEVEL] FILE.json`: it
// assesses one household given as JSON (a scorer.Household) and prints the explanation.
func assessCmd(c *cli.Call) error {
	stdout := c.Stdout
	fs := c.Flags()
	modelPath := fs.String("model", "", "model file (default: the built-in model)")
	at := fs.String("at", "", "assess at this instant, RFC 3339 (default: now)")
	prev := fs.String("prev", "", "the household's previous level, for hysteresis: watch, warning or urgent")
	asJSON := fs.Bool("json", false, "print the assessment as JSON instead of the explanation")
	if err := c.Parse(fs, 1, 1); err != nil {
		return err
	}
	m := scorer.Default()
	if *modelPath != "" {
		var err error
		if m, err = scorer.LoadFile(*modelPath); err != nil {
			return fmt.Errorf("%s: %w", *modelPath, err)
		}
	}
	now := time.Now().UTC()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return c.BadFlag("-at %q: want RFC 3339, e.g. 2025-06-30T00:00:00Z", *at)
		}
		now = t
	}
	if *prev != "" && scorer.LevelRank(*prev) == 0 {
		return c.BadFlag("-prev %q: want watch, warning or urgent", *prev)
	}
	h, err := readHousehold(fs.Arg(0))
	if err != nil {
		return err
	}
	a := scorer.Assess(m, h, now)
	level := m.Classify(a, *prev)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Level string `json:"level"`
			scorer.Assessment
		}{level, a})
	}
	if h.ID != "" {
		fmt.Fprintf(stdout, "household %s\n", h.ID)
	}
	_, err = io.WriteString(stdout, a.Explain(level))
	return err
}

// readHousehold reads a scorer.Household from a JSON file ("-" for standard input), refusing
// unknown fields so that a misspelt field is not silently ignored.
func readHousehold(path string) (scorer.Household, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return scorer.Household{}, fmt.Errorf("assess: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var h scorer.Household
	if err := dec.Decode(&h); err != nil {
		return scorer.Household{}, fmt.Errorf("assess: %s: %w", path, err)
	}
	if len(h.Members) == 0 {
		return scorer.Household{}, fmt.Errorf("assess: %s: household has no members", path)
	}
	return h, nil
}
