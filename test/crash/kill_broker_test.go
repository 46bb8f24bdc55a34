package crash

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"safetynet/stream/embedded"
	"safetynet/stream/topics"
)

// TestBrokerOutage fails every request to the broker for 30 s while the service is working
// (kfake's ControlKey; the broker runs in the test process, the service is the real binary):
// /readyz must answer not ready while it lasts and ready after, and the end state and alerts
// must equal those of an uninterrupted run of the same feed.
func TestBrokerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("broker outage test: not in -short")
	}
	bin := buildBinary(t)
	pl := makePlan(planConfig{seed: 77, households: 120, events: 1200})
	topics := topics.Default()
	frozen := pl.frozen.Format(time.RFC3339)

	refBroker := freeAddr(t)
	startBroker(t, bin, t.TempDir(), refBroker)
	ref := newService(t, bin, t.TempDir(), refBroker, frozen)
	ref.start()
	refProd := newProducer(refBroker, topics)
	feedWaves(t, ref, refBroker, refProd, pl, nil)
	refProd.close()
	refDump := finish(t, ref, refBroker, topics)
	refAlerts := alertsByID(t, refBroker, topics)

	b, err := embedded.Start("127.0.0.1:0", killPartitions, allTopics(topics)...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	broker := b.Addrs()[0]
	var failing atomic.Bool
	for key := int16(0); key <= 75; key++ {
		b.Cluster().ControlKey(key, func(kmsg.Request) (kmsg.Response, error, bool) {
			b.Cluster().KeepControl()
			if failing.Load() {
				return nil, errors.New("injected broker failure"), true
			}
			return nil, nil, false
		})
	}
	svc := newService(t, bin, t.TempDir(), broker, frozen)
	svc.start()
	prod := newProducer(broker, topics)
	defer prod.close()
	mid := len(pl.waves) / 2
	notReady := ""
	for k, wave := range pl.waves {
		prod.send(t, wave)
		if k == mid {
			began := time.Now()
			failing.Store(true)
			waitFor(t, 25*time.Second, "/readyz to report not ready while the broker fails", func() bool {
				code, body := svc.readyz()
				if code != 0 && code != 200 {
					notReady = body
					return true
				}
				return false
			})
			time.Sleep(30*time.Second - time.Since(began))
			failing.Store(false)
			if svc.p.exited() {
				t.Fatalf("the service exited during the broker outage (log %s)", svc.p.log)
			}
		}
		waitGate(t, svc, broker, topics, pl.parked[k])
	}
	t.Logf("/readyz during the outage: %s", bytes.TrimSpace([]byte(notReady)))
	waitFor(t, 2*time.Minute, "/readyz to report ready after the outage", func() bool {
		code, _ := svc.readyz()
		return code == 200
	})
	dump := finish(t, svc, broker, topics)
	if !bytes.Equal(dump, refDump) {
		t.Errorf("state after a 30 s broker outage differs from the reference:\n%s", firstDiff(refDump, dump))
	}
	alerts := alertsByID(t, broker, topics)
	for id := range refAlerts {
		if _, ok := alerts[id]; !ok {
			t.Errorf("alert %s of the reference run is missing", id)
		}
	}
	for id := range alerts {
		if _, ok := refAlerts[id]; !ok {
			t.Errorf("alert %s is not in the reference run", id)
		}
	}
}
