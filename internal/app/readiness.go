package app

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Readiness reason codes: what /readyz answers when the service is not ready. The details (which
// partition, which error) go to the log only.
const (
	ReasonRegistryLoading     = "registry_loading"      // the person table is still reading the registry topic
	ReasonGroupJoining        = "group_joining"         // the monitor has not joined its consumer group yet
	ReasonPartitionCatchingUp = "partition_catching_up" // a partition is restoring or reading its backlog
	ReasonPartitionFailing    = "partition_failing"     // a partition cannot be written or read
	ReasonBrokersUnreachable  = "brokers_unreachable"   // the metadata probe fails
	ReasonDiskLow             = "disk_low"              // the state directory's filesystem is nearly full
)

// ReasonCodes lists every code /readyz may answer (docs/openapi.yaml enumerates the same).
var ReasonCodes = []string{ReasonRegistryLoading, ReasonGroupJoining, ReasonPartitionCatchingUp, ReasonPartitionFailing, ReasonBrokersUnreachable, ReasonDiskLow}

// readyCheck is one condition of readiness: its code, whether it holds, and the detail for the
// log when it does not.
type readyCheck struct {
	code   string
	ok     bool
	detail string
}

// monitorReason maps the monitor's readiness detail to its code.
func monitorReason(why string) string {
	switch {
	case strings.Contains(why, "joined"):
		return ReasonGroupJoining
	case strings.Contains(why, "catching up"):
		return ReasonPartitionCatchingUp
	default:
		return ReasonPartitionFailing
	}
}

// newReadiness returns the /readyz function: it evaluates the checks, sets the gauge, and logs a
// detail when it changes (so the log says why while /readyz says only the code).
func newReadiness(logger *slog.Logger, gauge prometheus.Gauge, checks func() []readyCheck) func() (bool, []string) {
	var mu sync.Mutex
	last := map[string]string{}
	return func() (bool, []string) {
		var codes []string
		now := map[string]string{}
		for _, c := range checks() {
			if c.ok {
				continue
			}
			codes = append(codes, c.code)
			now[c.code] = c.detail
		}
		mu.Lock()
		for code, detail := range now {
			if last[code] != detail {
				logger.Info("not ready", "reason", code, "detail", detail)
			}
		}
		last = now
		mu.Unlock()
		if len(codes) == 0 {
			gauge.Set(1)
			return true, nil
		}
		gauge.Set(0)
		return false, codes
	}
}

// HTTP server timeouts: a client that sends its headers or body slowly, or never reads the
// answer, cannot hold a connection for long. The write timeout allows a large alert page or
// statistics over a hundred thousand households.
const (
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 15 * time.Second
	httpWriteTimeout      = 60 * time.Second
	httpIdleTimeout       = 120 * time.Second
)

func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
