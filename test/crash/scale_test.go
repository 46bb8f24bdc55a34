package crash

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"testing"
	"time"

	"safetynet/stream/topics"
)

// The scale test proves guarantee 3 with the real binary: three `safetynet run` processes share
// one broker; one is SIGKILLed and its state directory deleted while the feed flows, a fresh one
// joins later. After every wave every live instance is asked for a sample of households: the
// answer must be the reference's answer at that wave (a single instance fed the same events) or
// 503 with Retry-After, never an older state. At the end every household asked of every
// instance equals the reference, and the alert topic holds the reference's alert ids.

var scaleFull = flag.Bool("scale.full", false, "run the scale test at full size")

const (
	scaleCaller   = "9f3e7a1c5b8d2f4e6a0c9b7d3f1e5a8c2d4b6f9e"
	scaleInternal = "7c2e9a4f1b8d3e6a0f5c2b9e8d7a4f1c3e6b0a9d"
)

func scaleEnv(url string) []string {
	return []string{
		"SAFETYNET_API_TOKENS=ops:" + scaleCaller + ":supervisor",
		"SAFETYNET_INTERNAL_TOKEN=" + scaleInternal,
		"SAFETYNET_ADVERTISED_URL=" + url,
		"SAFETYNET_API_RATE=5000", "SAFETYNET_API_BURST=10000",
	}
}

func newScaleService(t *testing.T, bin, broker, frozen string) *svcProc {
	s := newService(t, bin, t.TempDir(), broker, frozen)
	s.env = append(s.env, scaleEnv("http://"+s.http)...)
	return s
}

// ask returns the status, Retry-After and body of GET /v1/households/{id} on s.
func ask(s *svcProc, id string) (int, string, string) {
	c := http.Client{Timeout: 20 * time.Second}
	req, _ := http.NewRequest("GET", "http://"+s.http+"/v1/households/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+scaleCaller)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// canonical drops what legitimately differs between runs of the same events.
func canonical(body string) string {
	var v map[string]any
	if json.Unmarshal([]byte(body), &v) != nil {
		return body
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test: not in -short")
	}
	households, events := 120, 900
	if *scaleFull || os.Getenv("SAFETYNET_SCALE_FULL") != "" {
		households, events = 1500, 12000
	}
	began := time.Now()
	bin := buildBinary(t)
	pl := makePlan(planConfig{seed: 20240611, households: households, events: events})
	tp := topics.Default()
	frozen := pl.frozen.Format(time.RFC3339)
	caughtUp := func(broker string) bool {
		return groupCaughtUp(broker, "safetynet-intake", tp.FeedTopics()) &&
			groupCaughtUp(broker, "safetynet-monitor", []string{tp.HouseholdEvents})
	}

	// The reference: one instance; the answer for every household after every wave.
	refBroker := freeAddr(t)
	startBroker(t, bin, t.TempDir(), refBroker)
	ref := newScaleService(t, bin, refBroker, frozen)
	ref.start()
	prod := newProducer(refBroker, tp)
	var ids []string
	refAt := make([]map[string]string, len(pl.waves))
	for k, wave := range pl.waves {
		prod.send(t, wave)
		waitGate(t, ref, refBroker, tp, pl.parked[k])
		waitFor(t, 2*time.Minute, "the reference monitor to catch up", func() bool { return caughtUp(refBroker) })
		if ids == nil {
			seen := map[string]bool{}
			for _, m := range readTopic(t, refBroker, tp.Changelog) {
				if !seen[string(m.Key)] {
					seen[string(m.Key)] = true
					ids = append(ids, string(m.Key))
				}
			}
			sort.Strings(ids)
		}
		refAt[k] = map[string]string{}
		for _, id := range ids {
			code, _, body := ask(ref, id)
			if code == http.StatusOK {
				refAt[k][id] = canonical(body)
			}
		}
	}
	prod.close()
	refAlerts := alertsByID(t, refBroker, tp)
	if _, err := ref.term(); err != nil {
		t.Fatalf("reference SIGTERM: %v", err)
	}
	t.Logf("reference: %d waves, %d households, %d alert ids, took %s", len(pl.waves), len(ids), len(refAlerts), time.Since(began).Round(time.Second))

	// Three instances; the third is killed and its directory deleted at a third of the feed,
	// a fresh fourth joins at two thirds.
	broker := freeAddr(t)
	startBroker(t, bin, t.TempDir(), broker)
	live := []*svcProc{newScaleService(t, bin, broker, frozen), newScaleService(t, bin, broker, frozen), newScaleService(t, bin, broker, frozen)}
	for _, s := range live {
		s.start()
	}
	prod = newProducer(broker, tp)
	defer prod.close()
	rng := rand.New(rand.NewPCG(7, 11))
	lostParked, stale, unavailable, answered := 0, 0, 0, 0
	for k, wave := range pl.waves {
		switch k {
		case len(pl.waves) / 3:
			victim := live[2]
			lostParked = int(victim.metrics()["safetynet_parked_events"])
			victim.kill()
			if err := os.RemoveAll(victim.dir); err != nil {
				t.Fatal(err)
			}
			live = live[:2]
			t.Logf("wave %d: SIGKILLed an instance and deleted its state directory (%d parked events on it)", k, lostParked)
		case 2 * len(pl.waves) / 3:
			fresh := newScaleService(t, bin, broker, frozen)
			fresh.start()
			live = append(live, fresh)
			t.Logf("wave %d: a fresh instance joins", k)
		}
		prod.send(t, wave)
		waitFor(t, 3*time.Minute, fmt.Sprintf("wave %d to be handled", k), func() bool {
			if !caughtUp(broker) {
				return false
			}
			n := 0
			for _, s := range live {
				n += int(s.metrics()["safetynet_parked_events"])
			}
			return n == pl.parked[k]-lostParked
		})
		// Every live instance, a sample of households: the reference's answer at this wave, or 503.
		for _, s := range live {
			for range 15 {
				id := ids[rng.IntN(len(ids))]
				code, retry, body := ask(s, id)
				switch {
				case code == http.StatusServiceUnavailable:
					unavailable++
					if retry == "" {
						t.Errorf("wave %d, household %s: 503 without Retry-After", k, id)
					}
				case code == http.StatusOK && canonical(body) == refAt[k][id]:
					answered++
				case code == http.StatusOK:
					stale++
					t.Errorf("wave %d, household %s on %s: answer differs from the reference at this wave:\n got  %.300s\n want %.300s", k, id, s.http, canonical(body), refAt[k][id])
				case code == http.StatusNotFound && refAt[k][id] == "":
					answered++
				default:
					t.Errorf("wave %d, household %s on %s: status %d: %.200s", k, id, s.http, code, body)
				}
			}
		}
	}
	// The end: every household, every instance, equals the reference.
	last := refAt[len(pl.waves)-1]
	for _, s := range live {
		for _, id := range ids {
			var code int
			var body string
			waitFor(t, time.Minute, "an answer for "+id, func() bool {
				code, _, body = ask(s, id)
				return code != http.StatusServiceUnavailable
			})
			if code != http.StatusOK || canonical(body) != last[id] {
				t.Errorf("household %s on %s at the end: status %d\n got  %.300s\n want %.300s", id, s.http, code, canonical(body), last[id])
			}
		}
	}
	alerts := alertsByID(t, broker, tp)
	for id := range refAlerts {
		if _, ok := alerts[id]; !ok {
			t.Errorf("alert %s of the reference was never published", id)
		}
	}
	dups := 0
	for id, cs := range alerts {
		if _, ok := refAlerts[id]; !ok {
			t.Errorf("alert %s is not in the reference run", id)
		}
		dups += len(cs) - 1
		for _, c := range cs[1:] {
			if c != cs[0] {
				t.Errorf("alert %s published twice with different content", id)
			}
		}
	}
	t.Logf("scale run: %d waves, %d live instances at the end; during the feed %d answers equal to the reference, %d 503 with Retry-After, %d stale; "+
		"%d alert ids (%d duplicate records, same id); parked events lost with the deleted directory: %d; took %s in all",
		len(pl.waves), len(live), answered, unavailable, stale, len(alerts), dups, lostParked, time.Since(began).Round(time.Second))
}
