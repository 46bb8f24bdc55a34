package contracts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"safetynet/stream/feed"
)

// The casework schema's examples validate and pass the decoder; records the decoder refuses for
// a reason JSON Schema can express are refused by the schema too.
func TestCaseworkSchema(t *testing.T) {
	s := loadSchemas(t)
	const rel = "schemas/feeds/casework.schema.json"
	b, err := os.ReadFile(filepath.Join(repo, "docs", rel))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Examples []json.RawMessage }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Examples) == 0 {
		t.Fatalf("%s has no examples", rel)
	}
	now := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	for i, ex := range doc.Examples {
		if err := s.Validate(rel, ex); err != nil {
			t.Errorf("example %d: %v", i, err)
		}
		if _, derr := feed.DecodeCasework(ex, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, now); derr != nil {
			t.Errorf("example %d: the decoder refuses it: %v", i, derr)
		}
	}
	base := `"event_id":"x","household_id":"H-1","case_id":"H-1-1","occurred_at":"2026-03-01T00:00:00Z"`
	for _, bad := range []string{
		`{` + base + `,"type":"assign"}`,
		`{` + base + `,"type":"visit","visited_at":"2026-03-01T00:00:00Z","outcome":"aid_granted"}`,
		`{` + base + `,"type":"visit","visited_at":"2026-03-01T00:00:00Z","outcome":"referred","program":"dibao"}`,
		`{` + base + `,"type":"visit","visited_at":"2026-03-01T00:00:00Z","outcome":"not_needed","reason":"duplicate"}`,
		`{` + base + `,"type":"close","reason":"family_support"}`,
		`{` + base + `,"type":"close","reason":"other","note":"` + strings.Repeat("x", 501) + `"}`,
	} {
		if err := s.Validate(rel, []byte(bad)); err == nil {
			t.Errorf("schema accepts %s", bad)
		}
		if _, derr := feed.DecodeCasework([]byte(bad), feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, now); derr == nil {
			t.Errorf("decoder accepts %s", bad)
		}
	}
}
