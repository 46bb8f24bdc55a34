package household

import (
	gojson "github.com/goccy/go-json"
)

// In every output — the alert topic, the API, the case timelines, statistics and metrics — a
// household with no level is spelt LevelLabelNone ("none"). Inside, Household.Level and the Level
// fields of these records keep "" for it (the alert ids are derived from it): the JSON methods
// below translate at the edge, in both directions, so a record read back from the alert topic or
// the state store has "" again. CaseAlert and AlertRef, which every stored household with
// casework holds, and the published Alert, which the monitor writes and every instance's alert
// table reads back, are written and read with github.com/goccy/go-json (the same bytes as
// encoding/json: TestLevelsJSONSameBytes).

func levelOut(level string) string {
	if level == "" {
		return LevelLabelNone
	}
	return level
}

func levelIn(level string) string {
	if level == LevelLabelNone {
		return ""
	}
	return level
}

// MarshalJSON writes Level and PreviousLevel "none" when there is none. Call it directly
// rather than through json.Marshal, which would check and copy what it returns.
func (a Alert) MarshalJSON() ([]byte, error) {
	type plain Alert
	p := plain(a)
	p.Level, p.PreviousLevel = levelOut(a.Level), levelOut(a.PreviousLevel)
	return gojson.Marshal(p)
}

// UnmarshalJSON reads "none" (and the "" of alerts published before it was spelt so) as no level.
func (a *Alert) UnmarshalJSON(b []byte) error {
	type plain Alert
	var p plain
	if err := gojson.Unmarshal(b, &p); err != nil {
		return err
	}
	*a = Alert(p)
	a.Level, a.PreviousLevel = levelIn(p.Level), levelIn(p.PreviousLevel)
	return nil
}

// MarshalJSON writes Level "none" when there is none.
func (r AlertRef) MarshalJSON() ([]byte, error) {
	type plain AlertRef
	p := plain(r)
	p.Level = levelOut(r.Level)
	return gojson.Marshal(p)
}

// UnmarshalJSON reads "none" (or "") as no level.
func (r *AlertRef) UnmarshalJSON(b []byte) error {
	type plain AlertRef
	var p plain
	if err := gojson.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = AlertRef(p)
	r.Level = levelIn(p.Level)
	return nil
}

// MarshalJSON writes Level "none" when there is none.
func (c CaseAlert) MarshalJSON() ([]byte, error) {
	type plain CaseAlert
	p := plain(c)
	p.Level = levelOut(c.Level)
	return gojson.Marshal(p)
}

// UnmarshalJSON reads "none" (or "") as no level.
func (c *CaseAlert) UnmarshalJSON(b []byte) error {
	type plain CaseAlert
	var p plain
	if err := gojson.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = CaseAlert(p)
	c.Level = levelIn(p.Level)
	return nil
}
