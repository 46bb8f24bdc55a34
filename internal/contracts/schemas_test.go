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

// repo is the repository root, seen from this package's directory.
const repo = "../.."

func loadSchemas(t *testing.T) *Schemas {
	t.Helper()
	s, err := LoadSchemas(filepath.Join(repo, "docs"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchemasCompile: every file under docs/schemas is a valid 2020-12 schema, with every
// reference resolved, and every component schema of the OpenAPI file compiles.
func TestSchemasCompile(t *testing.T) {
	s := loadSchemas(t)
	n := 0
	err := filepath.WalkDir(filepath.Join(repo, "docs", "schemas"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".schema.json") {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(repo, "docs"), p)
		if _, err := s.Schema(filepath.ToSlash(rel)); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 9 {
		t.Errorf("compiled %d schema files, want at least 9 (common, 5 feeds, household event, alert, dead-letter headers)", n)
	}
	comps, _ := s.OpenAPI()["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	if len(schemas) == 0 {
		t.Fatal("docs/openapi.yaml has no component schemas")
	}
	for name := range schemas {
		if _, err := s.Schema("openapi.yaml#/components/schemas/" + name); err != nil {
			t.Errorf("openapi.yaml component %s: %v", name, err)
		}
	}
}

// TestSchemaExamples: the examples a feed schema carries validate against it, and pass the
// decoder.
func TestSchemaExamples(t *testing.T) {
	s := loadSchemas(t)
	for _, f := range feed.Feeds {
		rel := "schemas/feeds/" + f + ".schema.json"
		b, err := os.ReadFile(filepath.Join(repo, "docs", rel))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Examples []json.RawMessage }
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if len(doc.Examples) == 0 {
			t.Errorf("%s has no examples", rel)
		}
		for i, ex := range doc.Examples {
			if err := s.Validate(rel, ex); err != nil {
				t.Errorf("%s example %d: %v", rel, i, err)
			}
			if _, derr := feed.Decode(f, ex, feed.DefaultMaxEventBytes, feed.DefaultMaxFutureSkew, time.Now()); derr != nil {
				t.Errorf("%s example %d: the decoder refuses it: %v", rel, i, derr)
			}
		}
	}
}
