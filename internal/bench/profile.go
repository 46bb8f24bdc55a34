package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// profileChunk is the length of one CPU profile taken from the service. The service's
// /debug/pprof/profile profiles for a fixed time, and the bench does not know beforehand how
// long a run lasts, so it takes chunks until the run ends; `go tool pprof` merges the files.
const profileChunk = 2 * time.Second

// profile takes CPU profiles of the service at addr (started with SAFETYNET_PPROF=true) into
// PREFIX.cpu.NNN.pprof, one chunk after the other, until the returned func is called; that func
// waits for the chunk in flight, then saves PREFIX.allocs.pprof.
func profile(ctx context.Context, addr, prefix string, logf func(string, ...any)) func() {
	quit, done := make(chan struct{}), make(chan struct{})
	base := "http://" + addr + "/debug/pprof/"
	go func() {
		defer close(done)
		for n := 0; ; {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			default:
			}
			err := fetch(ctx, fmt.Sprintf("%sprofile?seconds=%d", base, int(profileChunk.Seconds())), fmt.Sprintf("%s.cpu.%03d.pprof", prefix, n))
			if err != nil { // not listening yet, or stopping
				time.Sleep(50 * time.Millisecond)
				continue
			}
			n++
		}
	}()
	return func() {
		close(quit)
		select {
		case <-done:
		case <-time.After(3 * profileChunk):
			logf("profile: the last CPU profile did not come back within %s", 3*profileChunk)
		}
		if err := fetch(ctx, base+"allocs", prefix+".allocs.pprof"); err != nil {
			logf("profile: allocation profile: %v", err)
		}
		logf("profiles of the service saved as %s.cpu.*.pprof and %s.allocs.pprof", prefix, prefix)
	}
}

// fetch saves the body of a 200 answer to url in file.
func fetch(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// withoutSafetynetVars drops the SAFETYNET_* variables of the bench's own environment, so that
// the service under test runs with exactly the configuration the bench gives it.
func withoutSafetynetVars(environ []string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "SAFETYNET_") {
			out = append(out, kv)
		}
	}
	return out
}
