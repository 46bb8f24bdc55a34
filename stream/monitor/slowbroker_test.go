package monitor

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// TestPipelineThroughASlowBroker: a broker that answers every request 150 ms late (busy, or
// behind a slow link: produce, fetch, metadata, the groups' joins, heartbeats and commits) still
// carries events from the feeds to an alert. Each reader of the service is given
// kafkaio.FetchWait: with the MaxWait of 100–250 ms they had before, kafka-go timed every fetch
// out before the answer came and asked again from the same offset, and nothing moved.
func TestPipelineThroughASlowBroker(t *testing.T) {
	const late = 150 * time.Millisecond
	b, addr := kafkatest.Broker(t, testPartitions, topics.Default().All()...)
	c := b.Cluster()
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		if key == kmsg.ApiVersions.Int16() {
			continue // a client's first request on a connection, before it says who it is
		}
		c.ControlKey(key, func(kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			c.SleepControl(func() { time.Sleep(late) }) // other connections go on meanwhile
			return nil, nil, false                      // then the broker answers as usual
		})
	}
	t0 := date(2026, 1, 1)
	clk := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), clk)
	produceOldDisabledPensioner(t, p, id(31, 1944), "H-SLOW", t0)
	p.waitReady()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, a := range allAlerts(t, addr) {
			if a.HouseholdID == "H-SLOW" { // the first, in the household's partition's order
				if a.Status != household.StatusRaised {
					t.Errorf("first alert of H-SLOW is %s, want raised", a.Status)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert for H-SLOW within 60s of the pipeline being ready, through a broker %v late", late)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
