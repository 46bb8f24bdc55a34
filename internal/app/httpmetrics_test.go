package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/api"
)

// TestHTTPMetricsLabelByPattern serves the real API (over a real store and real TCP) behind
// the middleware, mounted the ways the service mounts handlers (alone, behind the profiler's
// mux, beside a /ui/ mux), and checks that every request is counted under the pattern that
// served it, with its method and code, and that no path (with its household id) becomes a label.
func TestHTTPMetricsLabelByPattern(t *testing.T) {
	store, err := state.Open(state.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := prometheus.NewRegistry()
	a := api.New(api.Config{}, store, scorer.Default(), reg, slog.New(slog.DiscardHandler))

	ui := http.NewServeMux() // stands for a UI package mounted under /ui/
	ui.HandleFunc("GET /ui/households/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "page")
	})
	ui.HandleFunc("POST /ui/boom", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	site := http.NewServeMux()
	site.Handle("/ui/", ui)
	site.Handle("/", withPProf(a))

	m := newHTTPMetrics(reg)
	srv := httptest.NewServer(m.instrument(site))
	defer srv.Close()

	for _, tc := range []struct {
		name, method, path   string
		route, method2, code string
	}{
		{"health", "GET", "/healthz", "GET /healthz", "GET", "200"},
		{"health again", "GET", "/healthz", "GET /healthz", "GET", "200"},
		{"head of a GET route", "HEAD", "/healthz", "GET /healthz", "HEAD", "200"},
		{"household without a token", "GET", "/v1/households/H-SECRET-1", "GET /v1/households/{id}", "GET", "401"},
		{"ui page", "GET", "/ui/households/H-SECRET-2", "GET /ui/households/{id}", "GET", "200"},
		{"profiler", "GET", "/debug/pprof/cmdline", "/debug/pprof/cmdline", "GET", "200"},
		{"no such path", "GET", "/v1/nothing/H-SECRET-3", routeUnmatched, "GET", "404"},
		{"wrong method", "DELETE", "/healthz", routeUnmatched, "DELETE", "405"},
		{"odd method", "BREW", "/v1/households/H-SECRET-4", routeUnmatched, "other", "405"},
		{"handler panics", "POST", "/ui/boom", "POST /ui/boom", "POST", "500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(m.requests.WithLabelValues(tc.route, tc.method2, tc.code))
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if tc.code == "500" { // the server aborts the connection of a panicking handler
				if err == nil {
					resp.Body.Close()
					t.Fatalf("%s %s: got status %d, want the connection aborted", tc.method, tc.path, resp.StatusCode)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if got := resp.Status[:3]; got != tc.code {
					t.Fatalf("%s %s: status %s, want %s", tc.method, tc.path, got, tc.code)
				}
			}
			if got := testutil.ToFloat64(m.requests.WithLabelValues(tc.route, tc.method2, tc.code)); got != before+1 {
				t.Errorf("requests{route=%q,method=%q,code=%q} = %v, want %v", tc.route, tc.method2, tc.code, got, before+1)
			}
		})
	}

	// The duration histogram has one series per route, counting each request once.
	if n := histogramCount(t, reg, "GET /healthz"); n != 3 {
		t.Errorf("duration count of GET /healthz = %d, want 3", n)
	}
	if n := histogramCount(t, reg, routeUnmatched); n != 3 {
		t.Errorf("duration count of %s = %d, want 3", routeUnmatched, n)
	}

	// No label anywhere holds a path or a household id.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "safetynet_http_") {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.Contains(l.GetValue(), "SECRET") {
					t.Errorf("%s has label %s=%q: a path became a label", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestHTTPMetricsExistFromStart: before any request the families are there (at 0), so panels
// and rules over them read 0 rather than nothing.
func TestHTTPMetricsExistFromStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	newHTTPMetrics(reg)
	n, err := testutil.GatherAndCount(reg, "safetynet_http_requests_total", "safetynet_http_request_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("series at start: %d, want 2 (requests and duration of route %q)", n, routeUnmatched)
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, route string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "safetynet_http_request_duration_seconds" {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					return s.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	t.Fatalf("no duration series for route %q", route)
	return 0
}
