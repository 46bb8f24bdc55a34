package monitor

import (
	"fmt"
	"safetynet/stream/household"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestStateWritesFailing: while the state store cannot commit (here: the commit reports a full
// disk), the partition takes no new events, commits nothing, says why in readiness and the log,
// and does not flood the alert topic with repeats; when writes succeed again it resumes, and
// the result is as if nothing had happened.
func TestStateWritesFailing(t *testing.T) {
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	old := id(51, 1944)
	produce(t, addr, p.topics.Registry, joined(old, "H-DISK", date(1944, 3, 1), "F", "head", t0.AddDate(-30, 0, 0)))
	p.waitReady()
	waitHousehold(t, p.store, "H-DISK", func(h *household.Household) bool { return len(h.Persons) == 1 })

	var failing atomic.Bool
	failing.Store(true)
	var attempts atomic.Int64
	fail := func() error {
		if failing.Load() {
			attempts.Add(1)
			return fmt.Errorf("write vlog: %w", syscall.ENOSPC)
		}
		return nil
	}
	p.monitor.failCommit.Store(&fail)
	produce(t, addr, p.topics.Pension, ev("started", old, t0.AddDate(-1, 0, 0), rec{"monthly_amount": 500}))
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, why := p.monitor.Ready()
		if !ok && strings.Contains(why, "no space left on device") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness never reported the failing writes (ready %v: %q)", ok, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for attempts.Load() < 4 {
		time.Sleep(20 * time.Millisecond)
	}
	// Nothing committed: the stored household is as before the pension event.
	v, err := p.store.Household("H-DISK")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := household.Decode(v)
	if len(h.Persons[keyOf(t, old)].Pension) != 0 {
		t.Fatal("the household was committed while the store was failing")
	}
	if got := testutil.ToFloat64(p.monitor.metrics.StateWriteErrors); got < 4 {
		t.Errorf("state write errors %v, want at least 4", got)
	}
	published := allAlerts(t, addr)
	if len(published) != 1 {
		t.Errorf("%d alerts on the topic after %d failed commits, want the one alert once", len(published), attempts.Load())
	}

	failing.Store(false)
	waitHousehold(t, p.store, "H-DISK", func(h *household.Household) bool { return len(h.Persons[keyOf(t, old)].Pension) == 1 && h.Level != "" })
	deadline = time.Now().Add(30 * time.Second)
	for ok, _ := p.monitor.Ready(); !ok; ok, _ = p.monitor.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("not ready again after writes succeeded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	final := allAlerts(t, addr)
	if len(final) != 1 || final[0].AlertID != published[0].AlertID {
		t.Errorf("after recovery: %d alerts, want the same single alert", len(final))
	}
}
