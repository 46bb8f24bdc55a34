package app

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// routeUnmatched is the route label of requests that no pattern matched (the mux's 404 and
// 405 answers): a path that matches nothing is never a label value.
const routeUnmatched = "unmatched"

// httpMetrics count the HTTP server's requests by the ServeMux pattern that served them (never
// the path, which holds household and case ids), method and status code, and time them.
type httpMetrics struct {
	requests *prometheus.CounterVec   // route, method, code
	duration *prometheus.HistogramVec // route
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "safetynet_http_requests_total",
			Help: "HTTP requests answered, by the route pattern that served them, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "safetynet_http_request_duration_seconds",
			Help:    "Time from a request's arrival to its handler's return, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	// The series of unmatched requests exist from the start, so that the family is never
	// absent: panels and rules over it read 0 rather than nothing before the first request.
	m.requests.WithLabelValues(routeUnmatched, http.MethodGet, strconv.Itoa(http.StatusNotFound))
	m.duration.WithLabelValues(routeUnmatched)
	return m
}

// instrument wraps the server's whole handler. The route is read from r.Pattern once h has
// served the request: http.ServeMux sets it on the request it routes, and nested muxes (the
// API's, the UI's, the profiler's) each overwrite it, so the innermost pattern wins. A handler
// that routes a copy of the request (http.StripPrefix, r.WithContext before a mux) leaves the
// pattern of the mux before it, which is coarser but still a pattern.
func (m *httpMetrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			// A handler that panics (http.ErrAbortHandler included) is counted too, as a 500
			// unless it had sent its header; the panic then goes on to the server.
			p := recover()
			code := sw.code
			switch {
			case code == 0 && p != nil:
				code = http.StatusInternalServerError
			case code == 0:
				code = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = routeUnmatched
			}
			m.requests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(code)).Inc()
			m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
			if p != nil {
				panic(p)
			}
		}()
		h.ServeHTTP(sw, r)
	})
}

// methodLabel bounds the method label: the standard methods as they are, anything else "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// statusWriter remembers the status code a handler sent. Unwrap lets http.ResponseController
// reach the server's writer (flush, deadlines).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 { // 1xx are informational; the final code comes later
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
