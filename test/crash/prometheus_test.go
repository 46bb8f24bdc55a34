package crash

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"safetynet/deploy"
	"safetynet/stream/kafkatest"
	"safetynet/stream/topics"
)

// deployDir is the deploy directory, seen from this package's directory.
var deployDir = filepath.Join("..", "..", "deploy")

// promEmptyAllowed lists the expressions that by nature return no series under a short, healthy
// demo run, each with why. Everything else of every dashboard panel, dashboard variable and
// alert rule (its signals) must return series. An entry matches an expression by its Where
// ("alert SafetynetFeedSilent", `panel 9 "Dead letters by reason" target A`) in a file, and a
// signal containing the given text. Every entry must match something (no stale entries).
var promEmptyAllowed = []struct {
	file, where, signal, reason string
}{
	{"prometheus/rules.yml", "alert SafetynetFeedSilent", "offset 2h",
		"the counter as it was 2 hours ago: a process started seconds ago has no such sample"},
	{"prometheus/rules.yml", "alert SafetynetConsumerLagGrowing", "[10m:1m]",
		"deriv of a 1-minute-step subquery needs samples at two whole minutes, up to 2 minutes of history"},
}

// TestPrometheusEvaluatesEveryExpression runs the demo (embedded broker, synthetic feeds, the
// service) in-process, has the real prometheus binary scrape it every second with the alert
// rules of deploy/prometheus loaded, and evaluates every expression of every dashboard panel
// and variable, and the signals of every alert rule, through Prometheus's HTTP API. It fails
// when one is invalid or returns no series (but for promEmptyAllowed), or when a rule does not
// evaluate cleanly.
func TestPrometheusEvaluatesEveryExpression(t *testing.T) {
	promBin := kafkatest.Tool(t, "prometheus", "prometheus")
	exprs, err := deploy.Expressions(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	ruleFiles, err := deploy.RuleFiles(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	start := time.Now()

	// The service under demo load: `safetynet demo`, the real binary.
	httpAddr := promFreeAddr(t)
	var demoOut promLog
	demo := exec.CommandContext(ctx, safetynetBin, "demo", "-broker", "127.0.0.1:0", "-http", httpAddr,
		"-state", filepath.Join(t.TempDir(), "demo"), "-households", "2000", "-rate", "2000", "-lines", "0")
	demo.Env = childEnv()
	demo.Stdout, demo.Stderr = &demoOut, &demoOut
	demo.Cancel = func() error { return demo.Process.Signal(os.Interrupt) }
	demo.WaitDelay = 15 * time.Second
	if err := demo.Start(); err != nil {
		t.Fatalf("start the demo: %v", err)
	}
	defer func() {
		_ = demo.Process.Signal(os.Interrupt)
		if err := demo.Wait(); err != nil {
			t.Errorf("demo: %v", err)
		}
		if t.Failed() {
			t.Logf("demo output (tail):\n%s", promTail(demoOut.String(), 4000))
		}
	}()
	promWait(ctx, t, "the service's /metrics", func() error {
		_, err := promHTTPGet(ctx, "http://"+httpAddr+"/metrics")
		return err
	})

	// Prometheus scraping it every second, with the rules.
	dir := t.TempDir()
	var absRules []string
	for _, f := range ruleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		absRules = append(absRules, abs)
	}
	cfg, err := yaml.Marshal(map[string]any{
		"global":     map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
		"rule_files": absRules,
		"scrape_configs": []map[string]any{{
			"job_name":       "safetynet", // what the dashboards and rules select
			"static_configs": []map[string]any{{"targets": []string{httpAddr}}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := promFreeAddr(t)
	var promOut promLog
	cmd := exec.CommandContext(ctx, promBin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &promOut, &promOut
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	promCtx, stopProm := context.WithCancel(ctx)
	defer func() {
		stopProm()
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output (tail):\n%s", promTail(promOut.String(), 4000))
		}
	}()
	api := &promAPI{base: "http://" + promAddr}
	promWait(promCtx, t, "prometheus ready", func() error {
		_, err := promHTTPGet(ctx, api.base+"/-/ready")
		return err
	})
	// The target is up and has been scraped a few times: rates over [1m] need two samples.
	promWait(promCtx, t, "five successful scrapes", func() error {
		res, err := api.query(ctx, `sum_over_time(up{job="safetynet"}[1m]) >= 5`)
		if err != nil {
			return err
		}
		if len(res) == 0 {
			return errors.New("fewer than five successful scrapes")
		}
		return nil
	})
	t.Logf("service scraped 5 times %.1fs after start", time.Since(start).Seconds())

	// Evaluate everything; expressions that return nothing yet are asked again until the
	// service has had the time to produce every kind of event (alerts, timers, batches), or
	// the deadline passes.
	type check struct {
		e       deploy.Expr
		signal  string
		allowed string // the reason when promEmptyAllowed covers it
	}
	var checks []check
	used := make([]bool, len(promEmptyAllowed))
	for _, e := range exprs {
		for _, s := range e.Signals {
			c := check{e: e, signal: s}
			for i, a := range promEmptyAllowed {
				if e.File == a.file && e.Where == a.where && strings.Contains(s, a.signal) {
					c.allowed, used[i] = a.reason, true
				}
			}
			checks = append(checks, c)
		}
	}
	for i, a := range promEmptyAllowed {
		if !used[i] {
			t.Errorf("promEmptyAllowed entry %s %s %q matches no expression: remove it", a.file, a.where, a.signal)
		}
	}
	deadline := time.Now().Add(40 * time.Second)
	pending := checks
	for round := 1; ; round++ {
		var still []check
		for _, c := range pending {
			res, err := api.query(ctx, c.signal)
			switch {
			case errors.Is(err, errPromInvalidQuery):
				t.Errorf("%s: %v\n\t%s", c.e, err, c.signal)
			case err != nil:
				t.Fatalf("%s: %v", c.e, err)
			case len(res) == 0 && c.allowed == "":
				still = append(still, c)
			}
		}
		if round == 1 && len(still) > 0 {
			var names []string
			for _, c := range still {
				names = append(names, c.e.String())
			}
			t.Logf("empty at first, asked again: %s", strings.Join(names, "; "))
		}
		pending = still
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		if !promSleep(ctx, time.Second) {
			t.Fatal(ctx.Err())
		}
	}
	for _, c := range pending {
		t.Errorf("%s: returns no series after %.0fs of demo load\n\t%s", c.e, time.Since(start).Seconds(), c.signal)
	}

	// The lag expressions do not name a topic (topic names are configurable), so they are not
	// empty while the feeds' lag alone is exported: the service exported no lag of the
	// household-events topic, the monitor's, until the twentieth round of issue 16.
	householdLag := fmt.Sprintf(`safetynet_consumer_lag{job="safetynet",topic=%q}`, topics.Default().HouseholdEvents)
	promWait(promCtx, t, householdLag, func() error {
		res, err := api.query(ctx, householdLag)
		if err == nil && len(res) == 0 {
			err = errors.New("no series: the monitor's workers do not export their partitions' lag")
		}
		return err
	})

	// Every metric docs/metrics.md names is exported under the demo's load: a metric built and
	// documented but never registered (or registered only by a code path the service does not
	// take) is on no scrape, and the panels and rules that name it only ever see nothing.
	documented := promDocumentedMetrics(t)
	promWait(promCtx, t, "every documented metric exported", func() error {
		body, err := promHTTPGet(ctx, "http://"+httpAddr+"/metrics")
		if err != nil {
			return err
		}
		var missing []string
		for _, name := range documented {
			if !bytes.Contains(body, []byte("\n# TYPE "+name+" ")) {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("docs/metrics.md names %d metrics /metrics does not export: %s", len(missing), strings.Join(missing, ", "))
		}
		return nil
	})

	// Prometheus evaluated every alert rule without error.
	var rules struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	promWait(promCtx, t, "every rule evaluated", func() error {
		if err := api.get(ctx, "/api/v1/rules", nil, &rules); err != nil {
			return err
		}
		n := 0
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				if r.Health == "unknown" {
					return fmt.Errorf("rule %s not evaluated yet", r.Name)
				}
				n++
			}
		}
		if want := promCountKind(exprs, deploy.KindAlert) + promCountKind(exprs, deploy.KindRecord); n != want {
			return fmt.Errorf("prometheus loaded %d rules, want %d", n, want)
		}
		return nil
	})
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Health != "ok" {
				t.Errorf("rule %s: health %s: %s", r.Name, r.Health, r.LastError)
			}
		}
	}
	t.Logf("%d expressions, %d signals evaluated (%d allowed to be empty) in %.1fs",
		len(exprs), len(checks), promCount(checks, func(c check) bool { return c.allowed != "" }), time.Since(start).Seconds())
}

func promCountKind(exprs []deploy.Expr, k deploy.Kind) int {
	n := 0
	for _, e := range exprs {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func promCount[T any](xs []T, f func(T) bool) int {
	n := 0
	for _, x := range xs {
		if f(x) {
			n++
		}
	}
	return n
}

// promAPI queries Prometheus's HTTP API.
type promAPI struct{ base string }

var errPromInvalidQuery = errors.New("invalid query")

// query evaluates expr at the current time and returns its series (a scalar or string result
// counts as one).
func (p *promAPI) query(ctx context.Context, expr string) ([]json.RawMessage, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	switch data.ResultType {
	case "vector", "matrix":
		var series []json.RawMessage
		if err := json.Unmarshal(data.Result, &series); err != nil {
			return nil, err
		}
		return series, nil
	default:
		return []json.RawMessage{data.Result}, nil
	}
}

// get calls an API endpoint and decodes its data. A bad_data answer (a query that does not
// parse or evaluate) wraps errPromInvalidQuery.
func (p *promAPI) get(ctx context.Context, path string, q url.Values, data any) error {
	u := p.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		if body.ErrorType == "bad_data" || body.ErrorType == "execution" {
			return fmt.Errorf("%w: %s: %s", errPromInvalidQuery, body.ErrorType, body.Error)
		}
		return fmt.Errorf("%s: %s: %s", path, body.ErrorType, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

func promHTTPGet(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, err
}

// promWait calls f every 200ms until it returns nil; when ctx ends first the test fails with
// f's last error.
func promWait(ctx context.Context, t *testing.T, what string, f func() error) {
	t.Helper()
	for {
		err := f()
		if err == nil {
			return
		}
		if !promSleep(ctx, 200*time.Millisecond) {
			t.Fatalf("waiting for %s: %v (%v)", what, err, ctx.Err())
		}
	}
}

func promSleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// promFreeAddr returns a loopback address with a port nothing listens on right now.
func promFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func promTail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// promLog is a bytes.Buffer several goroutines write to.
type promLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *promLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *promLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// promDocumentedMetrics returns the service's metric names docs/metrics.md names (in
// backquotes), each once, in the order the document first names them.
func promDocumentedMetrics(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(deployDir, "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	seen := map[string]bool{}
	for _, m := range promMetricName.FindAllStringSubmatch(string(doc), -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			names = append(names, m[1])
		}
	}
	if len(names) < 10 {
		t.Fatalf("docs/metrics.md names only %d metrics: %v", len(names), names)
	}
	return names
}

// promMetricName is a service metric's name in backquotes.
var promMetricName = regexp.MustCompile("`(safetynet_[a-z0-9_]+)`")
