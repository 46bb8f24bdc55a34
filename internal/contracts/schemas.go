// Package contracts holds the tests that keep safetynet's machine-readable contracts honest: the
// JSON Schemas of docs/schemas (feeds, the household event, alerts, dead-letter headers) and the
// OpenAPI description docs/openapi.yaml. They check the docs' examples against the schemas, the
// feed decoder against the feed schemas, the service's real output against the output schemas,
// and run the client examples of examples/ against an in-process broker and service.
//
// The package holds no production code: Schemas, below, is the one helper the tests share.
package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// Schemas compiles the schemas of a docs directory: the JSON Schema files under docs/schemas and
// the component schemas of docs/openapi.yaml. Formats are annotations, as JSON Schema 2020-12
// has them by default, so the schemas are held to what any standard validator enforces.
type Schemas struct {
	docs     string
	compiler *jsonschema.Compiler
	openAPI  map[string]any
}

// LoadSchemas reads the docs directory docs (the repository's docs/).
func LoadSchemas(docs string) (*Schemas, error) {
	abs, err := filepath.Abs(docs)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	s := &Schemas{docs: abs, compiler: c}
	b, err := os.ReadFile(filepath.Join(abs, "openapi.yaml"))
	if err != nil {
		return nil, err
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml: %w", err)
	}
	// Round-trip through JSON: the validator wants JSON's types (float64, map[string]any).
	j, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return nil, err
	}
	if err := c.AddResource(s.fileURL("openapi.yaml"), inst); err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml: %w", err)
	}
	s.openAPI, _ = inst.(map[string]any)
	return s, nil
}

// OpenAPI returns docs/openapi.yaml as JSON values.
func (s *Schemas) OpenAPI() map[string]any { return s.openAPI }

func (s *Schemas) fileURL(rel string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(s.docs, rel))}).String()
}

// Schema compiles the schema at rel, a path under docs/ with an optional #fragment:
// "schemas/alert.schema.json", "openapi.yaml#/components/schemas/HouseholdView".
func (s *Schemas) Schema(rel string) (*jsonschema.Schema, error) {
	path, frag, _ := strings.Cut(rel, "#")
	u := s.fileURL(path)
	if frag != "" {
		u += "#" + frag
	}
	return s.compiler.Compile(u)
}

// Validate checks the JSON document doc against the schema at rel.
func (s *Schemas) Validate(rel string, doc []byte) error {
	sch, err := s.Schema(rel)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(inst)
}
