package feed

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The scanner reads the records the feeds send: if it gave up on them, every record would go
// to the JSON library again, correct but as slow as before.
func TestSplitMembersReadsWhatFeedsSend(t *testing.T) {
	for _, rec := range []string{
		`{"event_id":"e-1","type":"admitted","person_id":"x","occurred_at":"2026-03-01T08:30:00+08:00","total_cost":12500.5,"critical_illness":true,"grade":null}`,
		`{ "event_id" : "e-2", "type":"submitted", "application": {"program":"dibao","declared":{"members":[{"k":1},{"k":-2e-3}],"note":"\u4f4e\u4fdd \"a\""}} }` + "\n",
		`{}`,
	} {
		obj := map[string]json.RawMessage{}
		dup, ok := splitMembers([]byte(rec), obj)
		if !ok || dup != "" {
			t.Fatalf("splitMembers(%s) = %q, %v; want it read", rec, dup, ok)
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal([]byte(rec), &want); err != nil {
			t.Fatal(err)
		}
		if len(obj) != len(want) {
			t.Fatalf("%s: %d members, encoding/json %d", rec, len(obj), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(obj[k], v) {
				t.Errorf("%s: member %q = %s, encoding/json %s", rec, k, obj[k], v)
			}
		}
	}
}

func TestSplitMembersRefuses(t *testing.T) {
	for _, rec := range []string{
		`{"a":1,}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":tru}`, `{"a":"b\x"}`, `{"a":"\u12"}`,
		"{\"a\":\"\x01\"}", `{"a":[1,]}`, `{"a":{"b"}}`, `{"a":1} x`, `{"a":1`, `[1]`, `{a:1}`,
	} {
		if _, ok := splitMembers([]byte(rec), map[string]json.RawMessage{}); ok {
			t.Errorf("splitMembers(%s) read it; encoding/json refuses it", rec)
		}
		var v map[string]json.RawMessage
		if json.Unmarshal([]byte(rec), &v) == nil {
			t.Errorf("encoding/json reads %s: the case is wrong", rec)
		}
	}
	dup, ok := splitMembers([]byte(`{"k\u0041":1,"b":2,"kA":3,"b":4}`), map[string]json.RawMessage{})
	if !ok || dup != "kA" {
		t.Errorf("duplicate names: got %q, %v; want the first one given twice, kA", dup, ok)
	}
}
