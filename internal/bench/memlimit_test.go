package bench

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// GOMEMLIMIT in the environment is the service's: the bench's own process, which holds the
// embedded broker's records, must not run under it.
func TestBenchLiftsItsOwnMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	t.Setenv("GOMEMLIMIT", "400MiB")
	debug.SetMemoryLimit(400 << 20) // as the runtime set it from the variable at start
	v, lifted := liftOwnMemoryLimit()
	if !lifted || v != "400MiB" {
		t.Fatalf("liftOwnMemoryLimit() = %q, %v; want the variable's value reported", v, lifted)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("the bench process still has a soft memory limit of %d bytes", got)
	}
}

func TestBenchKeepsItsMemoryLimitWithoutTheVariable(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	t.Setenv("GOMEMLIMIT", "") // registers the restore of the variable
	if err := os.Unsetenv("GOMEMLIMIT"); err != nil {
		t.Fatal(err)
	}
	debug.SetMemoryLimit(1 << 40)
	if _, lifted := liftOwnMemoryLimit(); lifted {
		t.Fatal("lifted a limit nobody set through GOMEMLIMIT")
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("limit changed to %d", got)
	}
}
