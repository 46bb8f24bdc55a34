package feed

import json "github.com/goccy/go-json"

// The household event crosses the household-events topic as JSON (the topic's contract; tests
// and tools read it with encoding/json). It is written and read with github.com/goccy/go-json,
// which writes the bytes encoding/json writes for this struct and reads what encoding/json
// reads (tests and a fuzz target hold it to that), without encoding/json's per-call reflection.
// A hand-written codec saved no CPU over it end to end; see docs/performance.md.

// AppendHouseholdEvent appends ev as json.Marshal would write it. On error b is returned
// unchanged.
func AppendHouseholdEvent(b []byte, ev *HouseholdEvent) ([]byte, error) {
	v, err := json.Marshal(ev)
	if err != nil {
		return b, err
	}
	if len(b) == 0 {
		return v, nil
	}
	return append(b, v...), nil
}

// DecodeHouseholdEvent reads a household event as json.Unmarshal into a zero HouseholdEvent
// would.
func DecodeHouseholdEvent(data []byte, ev *HouseholdEvent) error {
	*ev = HouseholdEvent{}
	return json.Unmarshal(data, ev)
}
