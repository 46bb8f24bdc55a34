package monitor

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"safetynet/scorer"
	"safetynet/stream/api"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkatest"
)

// The review rebuilt 11010519491231002X exactly from one household-events record, from stored
// state and from `state dump`: the mask kept positions 1–6 and 15–18, and the exact birth date
// (positions 7–14) was stored and shown beside it. This test takes every output that shows a
// person — household-events records, the stored household (as `state dump` prints it), the API
// view, the alerts — and counts the ID numbers consistent with what each shows.
func TestNoOutputRebuildsAnIDNumber(t *testing.T) {
	const person = "11010519491231002X" // born 1949-12-31, female (17th digit even)
	addr := newBroker(t)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipeline(t, addr, t.TempDir(), c)
	reg := joined(person, "H-REBUILD", date(1949, 12, 31), "F", "head", t0.AddDate(-30, 0, 0))
	reg["area_code"] = "110105007012"
	produce(t, addr, p.topics.Registry, reg)
	produce(t, addr, p.topics.Pension, ev("started", person, t0.AddDate(-20, 0, 0), rec{"monthly_amount": 900}))
	produce(t, addr, p.topics.Disability, ev("registered", person, t0.AddDate(-1, 0, 0), rec{"grade": 1, "kind": "physical"}))
	p.waitReady()
	alert := newAlertReader(t, addr).waitFor("alert", func(a household.Alert) bool { return a.HouseholdID == "H-REBUILD" })
	if alert.AreaCode != "110105007012" {
		t.Errorf("alert area_code %q, want the head's 110105007012", alert.AreaCode)
	}

	outputs := map[string][]string{}
	outputs["household-events record"] = readTopicStrings(t, addr, p.topics.HouseholdEvents)
	v, err := p.store.Household("H-REBUILD")
	if err != nil {
		t.Fatal(err)
	}
	dump, err := household.CanonicalJSON(v) // what `state dump` prints
	if err != nil {
		t.Fatal(err)
	}
	outputs["stored state (state dump)"] = []string{string(dump)}
	srv := httptest.NewServer(api.New(apiConfig(t, p.addr, apiTestToken, c.Now), p.store, scorer.Default(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler)))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v1/households/H-REBUILD", nil)
	req.Header.Set("Authorization", "Bearer "+apiTestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	view, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	outputs["API household view"] = []string{string(view)}
	if !strings.Contains(string(view), `"area_code": "110105007012"`) {
		t.Errorf("API view has no area_code 110105007012: %s", view)
	}
	outputs["alert record"] = readTopicStrings(t, addr, p.topics.Alerts)

	for what, records := range outputs {
		seen := 0
		for _, r := range records {
			if !strings.Contains(r, "H-REBUILD") {
				continue
			}
			seen++
			if strings.Contains(r, person) || strings.Contains(r, person[:17]) {
				t.Fatalf("%s shows the ID number in the clear: %s", what, r)
			}
			n := candidates(person, r)
			t.Logf("%s: %d candidate ID numbers", what, n)
			if n < 1000 {
				t.Errorf("%s leaves %d candidate ID numbers, want at least 1000: %s", what, n, r)
			}
		}
		if seen == 0 {
			t.Errorf("no %s of H-REBUILD was found", what)
		}
	}
}

var maskRe = regexp.MustCompile(`[0-9]{6}\*+[0-9X]*`)

// candidates counts the 18-character ID numbers with a valid GB 11643 check character that agree
// with everything out shows of person: the visible characters of its masked form, the sex (the
// 17th digit's parity) if shown, and its birth date as precisely as out shows it — the exact
// date (as YYYY-MM-DD or YYYYMMDD anywhere), else the year and month, else the year.
func candidates(person, out string) int {
	visible := make([]byte, 18) // 0: hidden
	for _, m := range maskRe.FindAllString(out, -1) {
		if len(m) != 18 || m[:6] != person[:6] {
			continue
		}
		for i := range 18 {
			if m[i] != '*' {
				visible[i] = m[i]
			}
		}
	}
	if visible[0] == 0 { // not even the area shown: every area of the country
		return 1 << 30
	}
	born, _ := time.Parse("20060102", person[6:14])
	var days []time.Time
	ymd, ym := born.Format("2006-01-02"), born.Format("2006-01")
	switch {
	case strings.Contains(out, ymd) || strings.Contains(out, person[6:14]):
		days = []time.Time{born}
	case strings.Contains(out, ym):
		for d := born.AddDate(0, 0, 1-born.Day()); d.Month() == born.Month(); d = d.AddDate(0, 0, 1) {
			days = append(days, d)
		}
	default:
		for d := time.Date(born.Year(), 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == born.Year(); d = d.AddDate(0, 0, 1) {
			days = append(days, d)
		}
	}
	female := regexp.MustCompile(`"(sex|sx)": ?"F"`).MatchString(out)
	n := 0
	for _, d := range days {
		for seq := range 1000 {
			if female && seq%2 == 1 {
				continue
			}
			first17 := person[:6] + d.Format("20060102") + string([]byte{byte('0' + seq/100), byte('0' + seq/10%10), byte('0' + seq%10)})
			id := first17 + string(feed.ResidentIDCheck(first17))
			ok := true
			for i := range 18 {
				if visible[i] != 0 && id[i] != visible[i] {
					ok = false
					break
				}
			}
			if ok {
				n++
			}
		}
	}
	return n
}

// readTopicStrings returns every record value of topic that is JSON, from each partition's
// start to its end now.
func readTopicStrings(t *testing.T, addr, topic string) []string {
	t.Helper()
	var out []string
	kafkatest.EachRecord(t, addr, topic, func(m kafka.Message) {
		if json.Valid(m.Value) {
			out = append(out, string(m.Value))
		}
	})
	return out
}
