package monitor

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/scorer/declare"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
)

// checkOutcome is what the newest check of an application found, without what depends on
// when it ran (ids, sequence numbers, clocks).
type checkOutcome struct {
	Result        string
	Discrepancies []declare.Discrepancy
}

// newestChecks reads the verifications topic and returns the newest check of each application
// (a household's verifications are on one partition, in order).
func newestChecks(t *testing.T, p *pipeline) map[string]checkOutcome {
	t.Helper()
	out := map[string]checkOutcome{}
	kafkatest.EachRecord(t, p.addr, p.topics.Verifications, func(m kafka.Message) {
		var v household.Verification
		if err := json.Unmarshal(m.Value, &v); err != nil {
			t.Fatalf("verification does not decode: %v", err)
		}
		if v.Kind == household.VerificationCheck {
			out[v.ApplicationID] = checkOutcome{Result: v.Result, Discrepancies: v.Discrepancies}
		}
	})
	return out
}

// storedChecks is each application's newest check as the households record it (result and
// fingerprint of the discrepancies).
func storedChecks(hs map[string]*household.Household) map[string]string {
	out := map[string]string{}
	for _, h := range hs {
		if h.Declarations == nil {
			continue
		}
		for _, v := range h.Declarations.Verifications {
			out[v.ApplicationID] = v.Result + " " + v.Fingerprint
		}
	}
	return out
}

// compareChecks waits until both pipelines record a check of every application, then compares
// the applications kept on the households and the newest check of each application, as stored
// and as published on the verifications topic: whatever the arrival order, the newest check is
// the check of all the application's facts.
func compareChecks(t *testing.T, w *world, a, b *pipeline) {
	t.Helper()
	if w.applications < 10 {
		t.Fatalf("the world has %d applications: too few to compare checks", w.applications)
	}
	var sa, sb map[string]string
	var ha, hb map[string]*household.Household
	for deadline := time.Now().Add(60 * time.Second); ; {
		ha, hb = stored(t, a.store), stored(t, b.store)
		sa, sb = storedChecks(ha), storedChecks(hb)
		if len(sa) == w.applications && reflect.DeepEqual(sa, sb) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("stored checks differ or are missing: %d in order A, %d in order B of %d applications", len(sa), len(sb), w.applications)
			for app, r := range sa {
				if sb[app] != r {
					t.Errorf("%s: %q in order A, %q in order B", app, r, sb[app])
				}
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, id := range w.households {
		appsA, appsB := []household.Application(nil), []household.Application(nil)
		if d := ha[id].Declarations; d != nil {
			appsA = d.Applications
		}
		if d := hb[id].Declarations; d != nil {
			appsB = d.Applications
		}
		if !reflect.DeepEqual(appsA, appsB) {
			t.Errorf("%s: applications differ between the orders", id)
		}
	}
	ca, cb := newestChecks(t, a), newestChecks(t, b)
	if len(ca) != w.applications || len(cb) != w.applications {
		t.Errorf("published checks: %d in order A, %d in order B, want one newest per application (%d)", len(ca), len(cb), w.applications)
	}
	results := map[string]int{}
	for app, va := range ca {
		vb := cb[app]
		if !reflect.DeepEqual(va, vb) {
			t.Errorf("%s: newest check %s in order A, %s in order B", app, describe(va), describe(vb))
		}
		results[va.Result]++
	}
	if results[declare.CheckDiscrepancies] == 0 || results[declare.CheckConsistent]+results[declare.CheckInsufficient] == 0 {
		t.Errorf("checks found %v: the world should have both consistent and inconsistent declarations", results)
	}
	t.Logf("%d applications, newest checks identical in both orders: %v", w.applications, results)
}

func describe(c checkOutcome) string {
	var codes []string
	for _, d := range c.Discrepancies {
		codes = append(codes, fmt.Sprintf("%s(%v/%v %s)", d.Code, d.Declared, d.Found, d.FactDate))
	}
	slices.Sort(codes)
	return fmt.Sprintf("%s %v", c.Result, codes)
}
