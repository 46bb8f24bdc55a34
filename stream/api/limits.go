package api

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters keeps one token bucket per key (a caller name, or the address of a client that failed
// to authenticate). Buckets unused for idleAfter are dropped, and the map never holds more than
// maxKeys: a flood of addresses cannot grow it without bound.
type limiters struct {
	every rate.Limit
	burst int

	mu    sync.Mutex
	m     map[string]*limiterEntry
	swept time.Time
}

type limiterEntry struct {
	lim  *rate.Limiter
	used time.Time
}

const (
	idleAfter = 10 * time.Minute
	maxKeys   = 10000
)

func newLimiters(perSecond float64, burst int) *limiters {
	return &limiters{every: rate.Limit(perSecond), burst: burst, m: map[string]*limiterEntry{}}
}

func (l *limiters) get(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.m) >= maxKeys {
		for k, e := range l.m {
			if now.Sub(e.used) > idleAfter {
				delete(l.m, k)
			}
		}
		if len(l.m) >= maxKeys { // still full: forget everyone rather than grow
			clear(l.m)
		}
		l.swept = now
	}
	e := l.m[key]
	if e == nil {
		e = &limiterEntry{lim: rate.NewLimiter(l.every, l.burst)}
		l.m[key] = e
	}
	e.used = now
	return e.lim
}

// take spends one token of key's bucket. When none is left it reports false and how long until
// one is (whole seconds, at least 1, for Retry-After).
func (l *limiters) take(key string, now time.Time) (bool, int) {
	lim := l.get(key, now)
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, 60
	}
	d := r.DelayFrom(now)
	if d == 0 {
		return true, 0
	}
	r.CancelAt(now)
	return false, max(1, int(math.Ceil(d.Seconds())))
}

// exhausted reports whether key's bucket is empty now, without spending from it, and the wait.
func (l *limiters) exhausted(key string, now time.Time) (bool, int) {
	lim := l.get(key, now)
	if lim.TokensAt(now) >= 1 {
		return false, 0
	}
	missing := 1 - lim.TokensAt(now)
	secs := 60
	if l.every > 0 {
		secs = max(1, int(math.Ceil(missing/float64(l.every))))
	}
	return true, secs
}
