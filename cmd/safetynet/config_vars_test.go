package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// testOnlyVars are variables the config struct reads that operators never set, so deploy/
// config-vars.txt (what manifests and compose files may set) leaves them out.
var testOnlyVars = []string{
	// Freezes the service's clock for reproducible test runs; never for production (run warns).
	envPrefix + "TEST_FROZEN_TIME",
}

// TestConfigVarsMatchDeploy: deploy/config-vars.txt, against which the deploy tests check every
// variable the Dockerfile, compose file and manifests set, lists exactly the variables the
// config struct reads.
func TestConfigVarsMatchDeploy(t *testing.T) {
	read := envVars(reflect.TypeFor[config](), envPrefix)
	if len(read) < 20 {
		t.Fatalf("found only %d variables in the config struct: %v", len(read), read)
	}
	var want []string
	for _, v := range read {
		if !slices.Contains(testOnlyVars, v) {
			want = append(want, v)
		}
	}
	for _, v := range testOnlyVars {
		if !slices.Contains(read, v) {
			t.Errorf("test-only variable %s is not read by the config struct: remove it from testOnlyVars", v)
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

// envVars returns the variables caarlos0/env reads into a struct of type typ: the env tags,
// under the prefixes of envPrefix tags of nested structs.
func envVars(typ reflect.Type, prefix string) []string {
	var out []string
	for f := range typ.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			out = append(out, prefix+name)
			continue
		}
		if p, ok := f.Tag.Lookup("envPrefix"); ok && f.Type.Kind() == reflect.Struct {
			out = append(out, envVars(f.Type, prefix+p)...)
		}
	}
	return out
}

func TestEnvVars(t *testing.T) {
	type inner struct {
		A string `env:"A"`
		B int    `env:"B,required"`
	}
	type outer struct {
		X     string `env:"X" envDefault:"x"`
		In    inner  `envPrefix:"IN_"`
		Plain string
	}
	got, want := envVars(reflect.TypeFor[outer](), "P_"), []string{"P_X", "P_IN_A", "P_IN_B"}
	if !slices.Equal(got, want) {
		t.Errorf("envVars = %v, want %v", got, want)
	}
}
