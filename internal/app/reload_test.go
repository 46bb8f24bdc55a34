package app

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"safetynet/scorer"
)

// TestModelReload: a reload swaps in a changed model file; a file that fails its check, or that
// changed without a new version, is refused with a log line naming why, and the model stays.
func TestModelReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.yaml")
	base := string(scorer.DefaultYAML())
	v1 := strings.Replace(base, "version: "+scorer.Default().Version, "version: local-1", 1)
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(v1)
	m, data, err := loadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	var swaps []string
	r := &modelReloader{path: path, current: m, data: data, logger: slog.New(slog.NewTextHandler(&log, nil)),
		swap: func(old, m *scorer.Model) { swaps = append(swaps, old.Version+"→"+m.Version) }}

	stricter := strings.Replace(v1, "{name: watch, threshold: 30, hysteresis: 5}", "{name: watch, threshold: 25, hysteresis: 5}", 1)
	for _, tc := range []struct {
		name    string
		file    string
		swapped bool
		model   string
		log     string
	}{
		{"unchanged", v1, false, "local-1", "unchanged"},
		{"fails its check", strings.Replace(v1, "threshold: 45", "threshold: 450", 1), false, "local-1", "model file refused on reload"},
		{"not YAML", "version: [", false, "local-1", "model file refused on reload"},
		{"changed without a new version", stricter, false, "local-1", "its version did not"},
		{"changed", strings.Replace(stricter, "version: local-1", "version: local-2", 1), true, "local-2", "model file reloaded"},
		{"removed", "", false, "local-2", "model file refused on reload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log.Reset()
			if tc.name == "removed" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else {
				write(tc.file)
			}
			if got := r.reload(); got != tc.swapped {
				t.Errorf("reload() = %v, want %v; log: %s", got, tc.swapped, log.String())
			}
			if r.current.Version != tc.model {
				t.Errorf("model %s after reload, want %s", r.current.Version, tc.model)
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("log %q does not say %q", log.String(), tc.log)
			}
		})
	}
	if want := []string{"local-1→local-2"}; len(swaps) != 1 || swaps[0] != want[0] {
		t.Errorf("swaps %v, want %v", swaps, want)
	}
	if !strings.Contains(log.String(), "SAFETYNET_MODEL_FILE") {
		t.Errorf("a refused file's log line does not name the variable: %s", log.String())
	}
}
