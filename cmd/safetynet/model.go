package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"safetynet/scorer"
)

// modelCmd runs `safetynet model check FILE` and `safetynet model show`.
func modelCmd(args []string, stdout, stderr io.Writer) error {
	usage := errors.New("usage: safetynet model check FILE | safetynet model show")
	if len(args) == 0 {
		return usage
	}
	switch args[0] {
	case "check":
		if len(args) != 2 {
			return errors.New("usage: safetynet model check FILE")
		}
		m, err := scorer.LoadFile(args[1])
		if err != nil {
			return fmt.Errorf("%s: %w", args[1], err)
		}
		fmt.Fprintf(stdout, "ok: %s\n", m.Summary())
		return nil
	case "show":
		if len(args) != 1 {
			return errors.New("usage: safetynet model show")
		}
		_, err := stdout.Write(scorer.DefaultYAML())
		return err
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, "usage: safetynet model check FILE   validate a model file")
		fmt.Fprintln(stdout, "       safetynet model show         print the default model")
		return nil
	}
	return fmt.Errorf("model: unknown subcommand %q; %w", args[0], usage)
}

// assessCmd runs `safetynet assess [-model FILE] [-at RFC3339] [-prev LEVEL] FILE.json`: it
// assesses one household given as JSON (a scorer.Household) and prints the explanation.
func assessCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("assess", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "", "model file (default: the built-in model)")
	at := fs.String("at", "", "assess at this instant, RFC 3339 (default: now)")
	prev := fs.String("prev", "", "the household's previous level, for hysteresis: watch, warning or urgent")
	asJSON := fs.Bool("json", false, "print the assessment as JSON instead of the explanation")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: safetynet assess [-model FILE] [-at RFC3339] [-prev LEVEL] [-json] FILE.json")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("assess: want exactly one household file")
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
			return fmt.Errorf("assess: -at %q: want RFC 3339, e.g. 2025-06-30T00:00:00Z", *at)
		}
		now = t
	}
	if *prev != "" && scorer.LevelRank(*prev) == 0 {
		return fmt.Errorf("assess: -prev %q: want watch, warning or urgent", *prev)
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
