package feed

import (
	"bytes"
	"testing"
)

func framed(schemaID uint32, payload []byte) []byte {
	b := []byte{0, byte(schemaID >> 24), byte(schemaID >> 16), byte(schemaID >> 8), byte(schemaID)}
	return append(b, payload...)
}

func TestStripWireFraming(t *testing.T) {
	plain := event(base("suspended", nil))
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"plain JSON is left alone", plain, plain},
		{"framed with schema id 1", framed(1, plain), plain},
		{"framed with a large schema id", framed(0xfffffffe, plain), plain},
		{"framed with leading whitespace", framed(7, append([]byte(" \n"), plain...)), append([]byte(" \n"), plain...)},
		{"only a header", framed(1, nil), framed(1, nil)},
		{"a zero byte alone", []byte{0}, []byte{0}},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stripWireFraming(tc.in); !bytes.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDecodeFramed: a framed record decodes to the same event as the bare JSON on every feed,
// and framing does not turn a bad record into a good one.
func TestDecodeFramed(t *testing.T) {
	good := []struct {
		feed  string
		extra map[string]any
	}{
		{Registry, map[string]any{"type": "member_joined", "household_id": "H1"}},
		{Hospital, map[string]any{"type": "admitted", "admission_id": "A1", "icd10": "C92.0"}},
		{Pension, map[string]any{"type": "started", "monthly_amount": 1800}},
		{Employment, map[string]any{"type": "unemployed", "registered": true}},
		{Disability, map[string]any{"type": "registered", "grade": 2}},
	}
	for _, tc := range good {
		t.Run(tc.feed, func(t *testing.T) {
			plain := event(base("", tc.extra))
			want, derr := Decode(tc.feed, plain, DefaultMaxEventBytes, DefaultMaxFutureSkew, testNow)
			if derr != nil {
				t.Fatalf("bare record: %v", derr)
			}
			got, derr := Decode(tc.feed, framed(42, plain), DefaultMaxEventBytes, DefaultMaxFutureSkew, testNow)
			if derr != nil {
				t.Fatalf("framed record: %v", derr)
			}
			if got.String() != want.String() || got.personID != want.personID || got.Event.Type != want.Event.Type {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	bad := []struct {
		name   string
		raw    []byte
		reason string
	}{
		{"header only", framed(1, nil), ReasonMalformedJSON},
		{"Avro payload", framed(1, []byte{0x02, 0x0a, 'h', 'e', 'l', 'l', 'o'}), ReasonMalformedJSON},
		{"framed, missing field", framed(1, event(base("suspended", map[string]any{"event_id": nil}))), ReasonMissingField},
		{"framed twice", framed(1, framed(1, event(base("suspended", nil)))), ReasonMalformedJSON},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, derr := Decode(Pension, tc.raw, DefaultMaxEventBytes, DefaultMaxFutureSkew, testNow)
			if derr == nil || derr.Reason != tc.reason {
				t.Errorf("got %v, want %s", derr, tc.reason)
			}
		})
	}
}
