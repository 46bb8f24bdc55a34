package monitor

import (
	"fmt"
	"testing"
)

func TestHouseholdCacheBounds(t *testing.T) {
	for _, c := range []struct {
		name      string
		valueSize int
	}{
		{"count bound (small values)", 16},
		{"byte bound (large values)", 4096},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hc householdCache
			v := make([]byte, c.valueSize)
			for i := range 200_000 {
				hc.put(fmt.Sprintf("hh-%d", i), v)
				if len(hc.m) > maxCachedHouseholds || hc.bytes > maxCachedBytes {
					t.Fatalf("after %d puts: %d entries, %d bytes; bounds %d, %d", i+1, len(hc.m), hc.bytes, maxCachedHouseholds, maxCachedBytes)
				}
			}
			want := 0
			for k, v := range hc.m {
				want += len(k) + len(v)
			}
			if hc.bytes != want {
				t.Errorf("bytes = %d; the entries hold %d", hc.bytes, want)
			}
			last := fmt.Sprintf("hh-%d", 200_000-1)
			if got, ok := hc.get(last); !ok || len(got) != c.valueSize {
				t.Errorf("the last put is not cached")
			}
			hc.put(last, v[:1]) // replacing a value re-counts it
			if want -= c.valueSize - 1; hc.bytes != want {
				t.Errorf("after a replacement bytes = %d; want %d", hc.bytes, want)
			}
		})
	}
}
