package feed

import (
	"strings"
	"testing"
	"time"
)

// TestDeadLetterOfAHugeRecordFitsTheBroker: a dead letter repeats the original record up to
// MaxDeadLetterBytes; above, it leaves the value out and says so, so it stays under 1 MiB.
func TestDeadLetterOfAHugeRecordFitsTheBroker(t *testing.T) {
	for _, tc := range []struct {
		name           string
		key, value     int
		wantValue      int
		wantOmitted    bool
		wantKeyClipped bool
	}{
		{"small", 18, 1000, 1000, false, false},
		{"at the bound", 18, MaxDeadLetterBytes - 18, MaxDeadLetterBytes - 18, false, false},
		{"over the bound", 18, 4 << 20, 0, true, false},
		{"huge key", 2 << 20, 10, 0, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DeadLetter{Reason: ReasonTooLarge, Detail: "x", Feed: Hospital,
				Key: []byte(strings.Repeat("k", tc.key)), Value: []byte(strings.Repeat("v", tc.value))}
			m := d.Message("safetynet.dlq", time.Now())
			omitted := ""
			size := len(m.Key) + len(m.Value)
			for _, h := range m.Headers {
				size += len(h.Key) + len(h.Value)
				if h.Key == HeaderOmitted {
					omitted = string(h.Value)
				}
			}
			if got := len(m.Value); got != tc.wantValue {
				t.Errorf("value of %d bytes, want %d", got, tc.wantValue)
			}
			if got := omitted != ""; got != tc.wantOmitted {
				t.Errorf("omitted header %q, want present %v", omitted, tc.wantOmitted)
			}
			if got := len(m.Key) < tc.key; got != tc.wantKeyClipped {
				t.Errorf("key of %d bytes from %d, want clipped %v", len(m.Key), tc.key, tc.wantKeyClipped)
			}
			if size > MaxDeadLetterBytes+4096 {
				t.Errorf("dead letter of %d bytes", size)
			}
		})
	}
}
