package crash

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"safetynet/stream/feed"
	"safetynet/stream/kafkatest"
	"safetynet/stream/monitor/cluster"
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
		"SAFETYNET_STANDBY_REPLICAS=1",
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

// askPath returns the status, Retry-After and body of GET path on s.
func askPath(s *svcProc, path string) (int, string, string) {
	c := http.Client{Timeout: 20 * time.Second}
	req, _ := http.NewRequest("GET", "http://"+s.http+path, nil)
	req.Header.Set("Authorization", "Bearer "+scaleCaller)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// askReady asks until the answer is not 503 (a partition moving), for up to a minute.
func askReady(t *testing.T, s *svcProc, path string) (int, string) {
	t.Helper()
	var code int
	var body string
	waitFor(t, time.Minute, "an answer for "+path+" on "+s.http, func() bool {
		code, _, body = askPath(s, path)
		return code != http.StatusServiceUnavailable
	})
	return code, body
}

// caseList reads every page of /v1/cases, each page from the next of the instances in turn
// (a cursor from one instance must be good on any other), and returns the cases in order.
func caseList(t *testing.T, from []*svcProc) []string {
	t.Helper()
	var out []string
	cursor := ""
	for k := 0; ; k++ {
		path := "/v1/cases?limit=7"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		code, body := askReady(t, from[k%len(from)], path)
		if code != http.StatusOK {
			t.Fatalf("%s on %s: status %d: %.300s", path, from[k%len(from)].http, code, body)
		}
		var page struct {
			Cases      []json.RawMessage `json:"cases"`
			NextCursor string            `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, c := range page.Cases {
			out = append(out, canonical(string(c)))
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
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
			for _, m := range kafkatest.ReadTopic(t, refBroker, tp.Changelog) {
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
	_, refStats := askReady(t, ref, "/v1/stats")
	refCases := caseList(t, []*svcProc{ref})
	refUI := uiPages(t, ref, ids)
	if _, err := ref.term(); err != nil {
		t.Fatalf("reference SIGTERM: %v", err)
	}
	t.Logf("reference: %d waves, %d households, %d alert ids, took %s", len(pl.waves), len(ids), len(refAlerts), time.Since(began).Round(time.Second))

	// Three instances; the third is killed and its directory deleted at a third of the feed,
	// a fresh fourth joins at two thirds. In between, while events flow, a fifth joins (at
	// wave mid) and leaves again (at wave mid+2) without waiting for a quiet moment, while a
	// request loop asks every live instance throughout.
	broker := freeAddr(t)
	startBroker(t, bin, t.TempDir(), broker)
	live := []*svcProc{newScaleService(t, bin, broker, frozen), newScaleService(t, bin, broker, frozen), newScaleService(t, bin, broker, frozen)}
	for _, s := range live {
		s.start()
	}
	prod = newProducer(broker, tp)
	defer prod.close()
	rng := rand.New(rand.NewPCG(7, 11))
	stale, unavailable, answered := 0, 0, 0
	// Parked events are on the parked topic, not on one disk: every live instance holds every
	// event that must stay parked (safetynet_parked_events is the cluster's parked events as
	// the instance has read them), whichever instances went. goneParked counts those that were
	// on the instances that went: none may be missing afterwards.
	goneParked := 0
	loop := startRequestLoop(t, ids, refAt)
	loop.setLive(live)
	mid := len(pl.waves) / 2
	var extra *svcProc
	for k, wave := range pl.waves {
		loop.inFlight(k)
		switch k {
		case mid:
			extra = newScaleService(t, bin, broker, frozen)
			extra.start()
			live = append(live, extra)
			loop.setLive(live)
			t.Logf("wave %d: an instance joins while the wave flows", k)
		case mid + 2:
			n := int(extra.metrics()["safetynet_parked_events"])
			live = slices.DeleteFunc(live, func(s *svcProc) bool { return s == extra })
			loop.setLive(live)
			go func() {
				if _, err := extra.term(); err != nil {
					t.Errorf("SIGTERM of the instance that joined: %v", err)
				}
			}()
			goneParked += n
			t.Logf("wave %d: that instance leaves while the wave flows (%d parked events on it)", k, n)
		case len(pl.waves) / 3:
			victim := live[2]
			n := int(victim.metrics()["safetynet_parked_events"])
			live = slices.Delete(live, 2, 3)
			loop.setLive(live)
			victim.kill()
			if err := os.RemoveAll(victim.dir); err != nil {
				t.Fatal(err)
			}
			goneParked += n
			t.Logf("wave %d: SIGKILLed an instance and deleted its state directory (%d parked events on it)", k, n)
		case 2 * len(pl.waves) / 3:
			fresh := newScaleService(t, bin, broker, frozen)
			fresh.start()
			live = append(live, fresh)
			loop.setLive(live)
			t.Logf("wave %d: a fresh instance joins", k)
		}
		prod.send(t, wave)
		var parkedOn []int
		if !waitUntil(3*time.Minute, func() bool {
			if !caughtUp(broker) {
				return false
			}
			parkedOn = parkedOn[:0]
			for _, s := range live {
				parkedOn = append(parkedOn, int(s.metrics()["safetynet_parked_events"]))
			}
			return !slices.ContainsFunc(parkedOn, func(n int) bool { return n != pl.parked[k] })
		}) {
			var logs strings.Builder
			for _, s := range live {
				p, starts := s.current()
				fmt.Fprintf(&logs, "\nlast lines of %s (started %d times, exited %v):\n%s", p.log, starts, p.exited(), logTail(p.log, 30))
			}
			t.Fatalf("wave %d not handled within 3 minutes: parked events on the live instances %v, want %d on each (none lost with the instances that went; none left unreleased)\n%s\n%s%s",
				k, parkedOn, pl.parked[k], groupReport(broker, "safetynet-intake", tp.FeedTopics()),
				groupReport(broker, "safetynet-monitor", []string{tp.HouseholdEvents}), logs.String())
		}
		loop.handled(k)
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
	flowAnswered, flowUnavailable, flowUnjudged := loop.stop()
	// The end: every household, every instance, equals the reference; so do the lists, which
	// span every partition (a fan-out), and a cursor from one instance pages on another.
	last := refAt[len(pl.waves)-1]
	for k, s := range live {
		if _, body := askReady(t, s, "/v1/stats"); canonical(body) != canonical(refStats) {
			t.Errorf("/v1/stats on %s differs from the reference:\n got  %.500s\n want %.500s", s.http, canonical(body), canonical(refStats))
		}
		got := caseList(t, append(slices.Clone(live[k:]), live[:k]...))
		if !slices.Equal(got, refCases) {
			t.Errorf("/v1/cases paged across the instances from %s: %d cases, want the reference's %d (or they differ)", s.http, len(got), len(refCases))
		}
	}
	if len(refCases) == 0 {
		t.Error("the reference has no cases: the list comparison proves nothing")
	}
	// Standby copies (SAFETYNET_STANDBY_REPLICAS=1): every partition has one once the group is
	// stable, and they keep up.
	waitFor(t, time.Minute, "a standby copy of every partition", func() bool {
		n, lag := 0.0, 0.0
		for _, s := range live {
			m := s.metrics()
			n += m["safetynet_standby_partitions"]
			lag += m["safetynet_standby_lag_records"]
		}
		return int(n) == killPartitions && lag == 0
	})
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
	// The caseworker UI answers as one service too: every instance shows every household page,
	// the inbox and the statistics exactly as the single reference instance does (a household
	// of a partition another instance serves is read through its owner; the lists are the
	// fan-out), and a visit or an assignment posted to any instance is made by the owner.
	uiBegan := time.Now()
	for _, s := range live {
		for path, want := range refUI {
			if got := uiReady(t, s, path); got != want {
				t.Errorf("UI page %s on %s differs from the reference's:\n got  %.400s\n want %.400s", path, s.http, uiDiff(got, want), uiDiff(want, got))
			}
		}
	}
	uiActions(t, live, refCases, pl.frozen)
	t.Logf("UI: %d pages equal to the reference's on each of %d instances, then actions through every instance; took %s",
		len(refUI), len(live), time.Since(uiBegan).Round(time.Millisecond))
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
	t.Logf("scale run: %d waves, %d live instances at the end; after each wave %d answers equal to the reference, %d 503 with Retry-After, %d stale; "+
		"while events flowed and membership changed %d answers equal to the reference, %d 503 with Retry-After, %d not judged (household changed by the wave in flight, a wave began or ended during the request, or the instance was going); "+
		"%d alert ids (%d duplicate records, same id); %d cases listed alike on every instance; parked events on the instances that went: %d, lost: 0 (%d still parked on every live instance); took %s in all",
		len(pl.waves), len(live), answered, unavailable, stale, flowAnswered, flowUnavailable, flowUnjudged,
		len(alerts), dups, len(refCases), goneParked, pl.parked[len(pl.waves)-1], time.Since(began).Round(time.Second))
}

// requestLoop asks random households of random live instances for the whole feed, membership
// changes included. A request made while wave k is in flight (waves before it handled) must
// get 503 with Retry-After or, for a household wave k does not change, exactly the reference's
// answer after wave k-1: never an older state. A household wave k changes may be read before,
// during or after the change, so its answer is not judged.
type requestLoop struct {
	t     *testing.T
	ids   []string
	refAt []map[string]string

	mu   sync.Mutex
	live []*svcProc
	wave atomic.Int64 // the wave in flight
	done atomic.Int64 // waves handled

	answered, unavailable, unjudged atomic.Int64
	stopCh                          chan struct{}
	wg                              sync.WaitGroup
}

func startRequestLoop(t *testing.T, ids []string, refAt []map[string]string) *requestLoop {
	l := &requestLoop{t: t, ids: ids, refAt: refAt, stopCh: make(chan struct{})}
	l.done.Store(-1)
	l.wg.Go(func() {
		rng := rand.New(rand.NewPCG(3, 5))
		for {
			select {
			case <-l.stopCh:
				return
			case <-time.After(20 * time.Millisecond):
			}
			l.mu.Lock()
			live := slices.Clone(l.live)
			l.mu.Unlock()
			if len(live) == 0 {
				continue
			}
			s := live[rng.IntN(len(live))]
			id := ids[rng.IntN(len(ids))]
			k, done := int(l.wave.Load()), int(l.done.Load())
			code, retry, body := ask(s, id)
			if int(l.wave.Load()) != k || int(l.done.Load()) != done {
				l.unjudged.Add(1) // a wave ended or began during the request
				continue
			}
			switch {
			case code == http.StatusServiceUnavailable:
				l.unavailable.Add(1)
				if retry == "" {
					t.Errorf("during wave %d, household %s on %s: 503 without Retry-After", k, id, s.http)
				}
			case code == 0:
				l.unjudged.Add(1) // the instance is going away (connection refused)
			case done < k-1 || done >= k:
				l.unjudged.Add(1) // between waves: judged by the checks after each wave
			case k == 0 || refAt[k-1][id] != refAt[k][id]:
				l.unjudged.Add(1)
			case code == http.StatusOK && canonical(body) == refAt[k-1][id], code == http.StatusNotFound && refAt[k-1][id] == "":
				l.answered.Add(1)
			default:
				t.Errorf("during wave %d, household %s on %s: status %d, not the reference's answer after wave %d:\n got  %.300s\n want %.300s",
					k, id, s.http, code, k-1, canonical(body), refAt[k-1][id])
			}
		}
	})
	return l
}

func (l *requestLoop) setLive(live []*svcProc) {
	l.mu.Lock()
	l.live = slices.Clone(live)
	l.mu.Unlock()
}

func (l *requestLoop) inFlight(k int) { l.wave.Store(int64(k)) }
func (l *requestLoop) handled(k int)  { l.done.Store(int64(k)) }

func (l *requestLoop) stop() (answered, unavailable, unjudged int64) {
	close(l.stopCh)
	l.wg.Wait()
	return l.answered.Load(), l.unavailable.Load(), l.unjudged.Load()
}

// uiDo returns the status, headers and body of a UI request on s, for the scale caller (a
// bearer token works on every page), without following a redirect.
func uiDo(s *svcProc, method, path string, form url.Values) (int, http.Header, string) {
	c := http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, "http://"+s.http+path, body)
	req.Header.Set("Authorization", "Bearer "+scaleCaller)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// uiReady returns a UI page once it is not 503 (which must carry Retry-After), for up to a
// minute; a page that is not 200 fails the test.
func uiReady(t *testing.T, s *svcProc, path string) string {
	t.Helper()
	var code int
	var h http.Header
	var body string
	waitFor(t, time.Minute, "the UI page "+path+" on "+s.http, func() bool {
		code, h, body = uiDo(s, "GET", path, nil)
		if code == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
			t.Errorf("UI page %s on %s: 503 without Retry-After", path, s.http)
		}
		return code != http.StatusServiceUnavailable
	})
	if code != http.StatusOK {
		t.Fatalf("UI page %s on %s: status %d: %.300s", path, s.http, code, body)
	}
	return body
}

// uiPages returns the inbox, the statistics and every household's page on s.
func uiPages(t *testing.T, s *svcProc, ids []string) map[string]string {
	t.Helper()
	pages := map[string]string{}
	for _, path := range []string{"/ui/", "/ui/?status=closed", "/ui/stats"} {
		pages[path] = uiReady(t, s, path)
	}
	for _, id := range ids {
		pages["/ui/households/"+url.PathEscape(id)] = uiReady(t, s, "/ui/households/"+url.PathEscape(id))
	}
	return pages
}

// uiDiff is a from the first byte where it differs from b.
func uiDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return a[max(0, i-80):]
}

// uiActions posts, through every instance, an assignment and a visit on open cases of three of
// the four partitions (an instance serves at most two of them, so every instance's posts include
// households another instance owns), and checks that every instance then shows the same case
// and the same household page.
func uiActions(t *testing.T, live []*svcProc, refCases []string, frozen time.Time) {
	t.Helper()
	type open struct{ caseID, hid, kind string }
	byPart := map[int][]open{}
	for _, c := range refCases {
		var cs struct {
			CaseID      string `json:"case_id"`
			HouseholdID string `json:"household_id"`
			Status      string `json:"status"`
			Kind        string `json:"kind"`
		}
		if json.Unmarshal([]byte(c), &cs) != nil || cs.Status == "closed" {
			continue
		}
		p := cluster.PartitionOf(cs.HouseholdID, killPartitions)
		byPart[p] = append(byPart[p], open{cs.CaseID, cs.HouseholdID, cs.Kind})
	}
	type posted struct {
		caseID, hid, field, want string
	}
	var done []posted
	for k, s := range live {
		for j := range 3 {
			p := (k + j) % killPartitions
			if len(byPart[p]) == 0 {
				continue
			}
			c := byPart[p][0]
			byPart[p] = byPart[p][1:]
			var form url.Values
			var action, field, want string
			if j == 0 {
				// An outcome that keeps the household's aid as it is, of the case's kind.
				want = map[string]string{feed.CaseKindVerification: feed.OutcomeExplained, feed.CaseKindReview: feed.OutcomeContinued,
					feed.CaseKindSpotCheck: feed.OutcomeContinued}[c.kind]
				if want == "" {
					want = feed.OutcomeUnreachable
				}
				action, field = "visit", "outcome"
				form = url.Values{"visited_at": {frozen.Add(-time.Hour).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04")}, "outcome": {want}}
			} else {
				action, field, want = "assign", "assignee", fmt.Sprintf("visitor-%d-%d", k, j)
				form = url.Values{"assignee": {want}}
			}
			var code int
			var h http.Header
			var body string
			waitFor(t, time.Minute, action+" through "+s.http, func() bool {
				code, h, body = uiDo(s, "POST", "/ui/cases/"+url.PathEscape(c.caseID)+"/"+action, form)
				return code != http.StatusServiceUnavailable
			})
			if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/ui/households/"+url.PathEscape(c.hid)+"?done="+action) {
				msg := body
				if i := strings.Index(body, `id="error"`); i >= 0 {
					msg = body[i:]
				}
				t.Errorf("%s of a case of partition %d through %s: status %d, Location %q: %.300s", action, p, s.http, code, h.Get("Location"), msg)
				continue
			}
			done = append(done, posted{c.caseID, c.hid, field, want})
		}
	}
	if len(done) < len(live) {
		t.Errorf("only %d UI actions were made through %d instances", len(done), len(live))
	}
	for _, d := range done {
		var page string
		for k, s := range live {
			code, body := askReady(t, s, "/v1/cases/"+url.PathEscape(d.caseID))
			var cv map[string]any
			if code != http.StatusOK || json.Unmarshal([]byte(body), &cv) != nil || cv[d.field] != d.want {
				t.Errorf("case after a UI action, on %s: status %d, want %s %q: %.300s", s.http, code, d.field, d.want, body)
			}
			got := uiReady(t, s, "/ui/households/"+url.PathEscape(d.hid))
			if k == 0 {
				page = got
			} else if got != page {
				t.Errorf("household page after a UI action differs between %s and %s:\n %.300s\n %.300s", live[0].http, s.http, uiDiff(page, got), uiDiff(got, page))
			}
		}
	}
}

// waitUntil polls cond until it holds (true) or d has passed (false), for a caller that reports
// what it saw instead of a bare time-out.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}
