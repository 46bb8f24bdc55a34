// Package testshot keeps the screenshots the browser tests take. A test run leaves the checkout
// as it found it: the screenshots go to the test's temporary directory, and to docs/ui (the
// pictures the documentation shows) only when SAFETYNET_UPDATE_SCREENSHOTS=1.
package testshot

import (
	"os"
	"path/filepath"
	"testing"
)

// UpdateEnv names the variable that makes Save write into the documentation's directory.
const UpdateEnv = "SAFETYNET_UPDATE_SCREENSHOTS"

// Save writes png as name: into docsDir (the documentation's screenshots, relative to the test's
// package) when UpdateEnv is 1, else into the test's temporary directory. It fails the test if
// the file cannot be written.
func Save(t testing.TB, docsDir, name string, png []byte) {
	t.Helper()
	dir := t.TempDir()
	if os.Getenv(UpdateEnv) == "1" {
		dir = docsDir
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
}
