package main

import (
	"bytes"
	"strings"
	"testing"

	"safetynet/internal/app"
	"safetynet/internal/cli"
	"safetynet/scorer"
)

// runCLI runs a command line as main does: its exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.ExitCode(dispatch(t.Context(), args, &out, &errOut), &errOut)
	return code, out.String(), errOut.String()
}

// TestHelp: every command's -h exits 0 and prints one format: the usage line, the description,
// then the flags.
func TestHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.Name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(strings.Fields(c.Name), "-h")...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, errOut)
			}
			lines := strings.Split(out, "\n")
			if want := "Usage: safetynet " + strings.TrimSpace(c.Name+" "+c.Args); lines[0] != want {
				t.Errorf("first line %q, want %q", lines[0], want)
			}
			if len(lines) < 3 || lines[1] != "" || !strings.EqualFold(strings.TrimSuffix(lines[2], "."), c.Desc) {
				t.Errorf("no description line after the usage line:\n%s", out)
			}
			if strings.Contains(c.Args, "[flags]") != strings.Contains(out, "\nFlags:\n") {
				t.Errorf("usage line %q and the flags section disagree:\n%s", c.Args, out)
			}
		})
	}
	for _, args := range [][]string{{"-h"}, {"help"}, {"model", "-h"}, {"state", "-h"}} {
		code, out, _ := runCLI(t, args...)
		if code != 0 || !strings.HasPrefix(out, "Usage: safetynet ") || !strings.Contains(out, "Commands:\n") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
}

// TestRunHelpListsTheVariables: `run -h` lists every operator variable with its default.
func TestRunHelpListsTheVariables(t *testing.T) {
	_, out, _ := runCLI(t, "run", "-h")
	n := 0
	for _, v := range app.Variables() {
		if v.TestOnly {
			if strings.Contains(out, v.Name) {
				t.Errorf("run -h lists the test-only %s", v.Name)
			}
			continue
		}
		n++
		i := strings.Index(out, "  "+v.Name+" ")
		if i < 0 {
			t.Errorf("run -h does not list %s", v.Name)
			continue
		}
		line, _, _ := strings.Cut(out[i:], "\n")
		if !strings.Contains(line, v.Default) || (v.Required && !strings.Contains(line, "(required)")) {
			t.Errorf("run -h: %q lacks the default %q", line, v.Default)
		}
	}
	if n < 30 {
		t.Errorf("only %d variables", n)
	}
}

// TestUsageErrors: unknown commands, bad flags and missing or extra arguments exit 2 with a
// message on stderr that names the problem.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"model"}, "model: no subcommand given"},
		{[]string{"model", "frob"}, `model: unknown subcommand "frob"`},
		{[]string{"state", "load"}, `state: unknown subcommand "load"`},
		{[]string{"model", "check"}, "model check: missing argument FILE"},
		{[]string{"model", "show", "extra"}, `model show: unexpected argument "extra"`},
		{[]string{"assess"}, "assess: missing argument HOUSEHOLD.json"},
		{[]string{"assess", "-at", "soon", "x.json"}, `assess: -at "soon"`},
		{[]string{"broker", "-partitions", "0"}, "broker: -partitions 0 is out of range"},
		{[]string{"bench", "-nope"}, "bench: flag provided but not defined: -nope"},
		{[]string{"demo", "-rate", "fast"}, `demo: invalid value "fast" for flag -rate`},
		{[]string{"run", "now"}, `run: unexpected argument "now"`},
		{[]string{"version", "-x"}, "version: flag provided but not defined: -x"},
		{[]string{"state", "dump", "-dir"}, "state dump: flag needs an argument: -dir"},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
		if !strings.Contains(errOut, "-h' for") {
			t.Errorf("%v: stderr %q does not say where the usage is", tc.args, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "safetynet "+version+" (go1.") || !strings.Contains(out, "model "+scorer.Default().Version) {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

// TestRunRefusesAnUnknownVariable: a misspelt variable stops start-up, naming it and the
// variable meant (exit 1: the command line was right, the configuration is not).
func TestRunRefusesAnUnknownVariable(t *testing.T) {
	t.Setenv("SAFETYNET_PSEUDONYM_KEY", "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d")
	t.Setenv("SAFETYNET_STATE_DIR", t.TempDir())
	t.Setenv("SAFETYNET_BATCH_SIZ", "100")
	code, _, errOut := runCLI(t, "run")
	if want := "unknown variable SAFETYNET_BATCH_SIZ — did you mean SAFETYNET_BATCH_SIZE?"; code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
}
