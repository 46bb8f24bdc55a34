package app

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// deployDir is the deploy directory, seen from this package's directory.
var deployDir = filepath.Join("..", "..", "deploy")

// TestConfigVarsMatchDeploy: deploy/config-vars.txt, against which the deploy tests check every
// variable the Dockerfile, compose file and manifests set, lists exactly the variables the
// config struct reads.
func TestConfigVarsMatchDeploy(t *testing.T) {
	read := Variables()
	if len(read) < 20 {
		t.Fatalf("found only %d variables in the config struct: %v", len(read), read)
	}
	var want []string
	for _, v := range read {
		if !v.TestOnly {
			want = append(want, v.Name)
		}
	}
	slices.Sort(want)

	b, err := os.ReadFile(filepath.Join(deployDir, "config-vars.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			listed = append(listed, l)
		}
	}
	for _, v := range want {
		if !slices.Contains(listed, v) {
			t.Errorf("the service reads %s, which deploy/config-vars.txt does not list", v)
		}
	}
	for _, v := range listed {
		if !slices.Contains(want, v) {
			t.Errorf("deploy/config-vars.txt lists %s, which the service does not read", v)
		}
	}
}

func TestVariables(t *testing.T) {
	type inner struct {
		A string `env:"A" desc:"a"`
		B int    `env:"B,required" doc:"required"`
	}
	type outer struct {
		X     string `env:"X" envDefault:"x" desc:"the x"`
		In    inner  `envPrefix:"IN_"`
		T     string `env:"T" testOnly:"true"`
		Plain string
	}
	got := variables(reflect.TypeFor[outer](), "P_")
	want := []Variable{{Name: "P_X", Default: "x", Desc: "the x"}, {Name: "P_IN_A", Desc: "a"}, {Name: "P_IN_B", Required: true}, {Name: "P_T", TestOnly: true}}
	if !slices.Equal(got, want) {
		t.Errorf("variables = %+v, want %+v", got, want)
	}
	for _, v := range Variables() {
		if v.Desc == "" {
			t.Errorf("%s has no desc tag: `safetynet run -h` and README.md say nothing of it", v.Name)
		}
	}
}

// TestREADMEConfigTable: README.md's configuration table lists the variables of the config
// struct (but the test-only ones), in its order, with the defaults and meanings of the struct
// tags, which `safetynet run -h` prints.
// updateREADME rewrites README.md's configuration table from the config struct's tags:
// go test ./internal/app -run TestREADMEConfigTable -update-readme
var updateREADME = flag.Bool("update-readme", false, "rewrite README.md's configuration table from the config struct")

func TestREADMEConfigTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "| `"+EnvPrefix) {
			rows = append(rows, l)
		}
	}
	var want []string
	for _, v := range Variables() {
		if !v.TestOnly {
			want = append(want, v.MarkdownRow())
		}
	}
	if *updateREADME && len(rows) > 0 {
		text := string(b)
		start := strings.Index(text, rows[0])
		end := strings.Index(text, rows[len(rows)-1]) + len(rows[len(rows)-1])
		text = text[:start] + strings.Join(want, "\n") + text[end:]
		if err := os.WriteFile(filepath.Join("..", "..", "README.md"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	for i := range max(len(rows), len(want)) {
		switch {
		case i >= len(rows):
			t.Fatalf("README.md's configuration table ends before\n%s", want[i])
		case i >= len(want):
			t.Fatalf("README.md's configuration table has a row the config struct does not:\n%s", rows[i])
		case rows[i] != want[i]:
			t.Fatalf("README.md's configuration table, row %d, differs from the config struct's tags (internal/app/config.go):\nREADME: %s\nstruct: %s", i+1, rows[i], want[i])
		}
	}
}
