package contracts

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The scripts under scripts/ run only by hand (make bench-ab): a change that breaks their
// syntax or their executable bit would go unseen until someone needs them.
func TestScriptsParseAndRun(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repo, "scripts", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scripts under scripts/: the Makefile's bench-ab target names one")
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable (the Makefile runs it directly)", f)
		}
		if out, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", f, err, out)
		}
		out, err := exec.Command(f).CombinedOutput() // no arguments: the usage line, status 1
		if err == nil || len(out) == 0 {
			t.Errorf("%s without arguments: status %v, output %q; want a usage message and a failure", f, err, out)
		}
	}
}
