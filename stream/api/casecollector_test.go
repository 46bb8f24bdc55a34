package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"safetynet/state"
	"safetynet/stream/household"
)

// TestCaseCollectorCountsOncePerTTL: a scrape within caseCountTTL of the last count is served
// from it (counting walks the whole case index); one after it sees the index as it is.
func TestCaseCollectorCountsOncePerTTL(t *testing.T) {
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	now := t0
	addCase := func(id string) {
		t.Helper()
		v, _ := json.Marshal(household.CaseSummary{CaseID: id, HouseholdID: "hh-" + id, Kind: "alert", Level: "watch",
			Status: household.CaseOpen, OpenedAt: t0, DueBy: t0.Add(72 * time.Hour)})
		if err := store.Update(func(tx *state.Tx) error { return tx.IndexCase(t0, id, v) }); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCaseCollector(store, func() time.Time { return now }))
	value := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "safetynet_cases" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				if strings.Join(labels, ",") == "level=watch,status=open" {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatal("no safetynet_cases{level=watch,status=open}")
		return 0
	}
	addCase("c1")
	if got := value(); got != 1 {
		t.Fatalf("first scrape: %v open watch cases, want 1", got)
	}
	addCase("c2")
	now = t0.Add(caseCountTTL / 2)
	if got := value(); got != 1 {
		t.Errorf("scrape within %s of the count: %v, want the count's 1", caseCountTTL, got)
	}
	now = t0.Add(caseCountTTL)
	if got := value(); got != 2 {
		t.Errorf("scrape %s after the count: %v, want 2", caseCountTTL, got)
	}
}
