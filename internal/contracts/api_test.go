package contracts

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"safetynet/stream/api"
	"safetynet/stream/kafkaio"
)

// apiSource is the directory of the package that registers the HTTP routes (api.New).
var apiSource = filepath.Join(repo, "stream", "api")

// registeredRoutes reads the route patterns ("GET /v1/alerts") the API package registers on its
// mux: every Handle/HandleFunc call with a string literal pattern.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(apiSource)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(apiSource, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if p, err := strconv.Unquote(lit.Value); err == nil && strings.Contains(p, "/") {
				routes = append(routes, p)
			}
			return true
		})
	}
	slices.Sort(routes)
	return routes
}

// documentedRoutes lists "METHOD /path" for every operation of docs/openapi.yaml.
func documentedRoutes(s *Schemas) []string {
	paths, _ := s.OpenAPI()["paths"].(map[string]any)
	var routes []string
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		for m := range ops {
			switch m {
			case "get", "put", "post", "delete", "patch", "head", "options":
				routes = append(routes, strings.ToUpper(m)+" "+p)
			}
		}
	}
	slices.Sort(routes)
	return routes
}

// TestAPIRoutesInOpenAPI: every route the API registers is described in docs/openapi.yaml, and
// the file describes no route the API does not have.
func TestAPIRoutesInOpenAPI(t *testing.T) {
	s := loadSchemas(t)
	got, doc := registeredRoutes(t), documentedRoutes(s)
	if len(got) < 5 {
		t.Fatalf("found %d routes in %s, want at least 5: %v", len(got), apiSource, got)
	}
	for _, r := range got {
		if !slices.Contains(doc, r) {
			t.Errorf("route %q is registered but not in docs/openapi.yaml", r)
		}
	}
	for _, r := range doc {
		if !slices.Contains(got, r) {
			t.Errorf("docs/openapi.yaml describes %q, which the API does not register", r)
		}
	}
}

// pointer escapes a JSON pointer token.
func pointer(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

// checkResponse holds a response to the OpenAPI description of operation (method, path
// template): its status must be documented, its content type one the operation lists, and a
// JSON body valid against the documented schema.
func checkResponse(t *testing.T, s *Schemas, method, path string, resp *http.Response, body []byte) {
	t.Helper()
	paths, _ := s.OpenAPI()["paths"].(map[string]any)
	op, _ := paths[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	responses, _ := op["responses"].(map[string]any)
	code := strconv.Itoa(resp.StatusCode)
	r, ok := responses[code].(map[string]any)
	if !ok {
		t.Errorf("%s %s answered %d, which docs/openapi.yaml does not list", method, path, resp.StatusCode)
		return
	}
	base := "/paths/" + pointer(path) + "/" + strings.ToLower(method) + "/responses/" + code
	if ref, ok := r["$ref"].(string); ok {
		base = strings.TrimPrefix(ref, "#")
		name := base[strings.LastIndexByte(base, '/')+1:]
		r, _ = s.OpenAPI()["components"].(map[string]any)["responses"].(map[string]any)[name].(map[string]any)
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Errorf("%s %s: Content-Type %q: %v", method, path, resp.Header.Get("Content-Type"), err)
		return
	}
	content, _ := r["content"].(map[string]any)
	if _, ok := content[mt]; !ok {
		t.Errorf("%s %s %d: Content-Type %s, docs/openapi.yaml lists %v", method, path, resp.StatusCode, mt, content)
		return
	}
	if mt != "application/json" {
		return
	}
	if err := s.Validate("openapi.yaml#"+base+"/content/"+pointer(mt)+"/schema", body); err != nil {
		t.Errorf("%s %s %d: body does not match docs/openapi.yaml: %v\n%s", method, path, resp.StatusCode, err, body)
	}
}

// testAPI asks the running service every documented question, with good and bad input, and
// checks each answer against docs/openapi.yaml.
func testAPI(t *testing.T, s *Schemas, svc *service) {
	tests := []struct {
		name, path, url string
		token           bool
		want            int
	}{
		{"household", "/v1/households/{id}", "/v1/households/H-FRAMED", true, 200},
		{"household with alerts", "/v1/households/{id}", "/v1/households/H-GO", true, 200},
		{"unknown household", "/v1/households/{id}", "/v1/households/H-NOBODY", true, 404},
		{"household without a token", "/v1/households/{id}", "/v1/households/H-FRAMED", false, 401},
		{"alerts", "/v1/alerts", "/v1/alerts", true, 200},
		{"alerts filtered", "/v1/alerts", "/v1/alerts?status=raised&level=warning", true, 200},
		{"alerts one page", "/v1/alerts", "/v1/alerts?limit=1", true, 200},
		{"alerts limit 0", "/v1/alerts", "/v1/alerts?limit=0", true, 400},
		{"alerts bad cursor", "/v1/alerts", "/v1/alerts?cursor=***", true, 400},
		{"alerts without a token", "/v1/alerts", "/v1/alerts", false, 401},
		{"stats", "/v1/stats", "/v1/stats", true, 200},
		{"audit trail is for auditors", "/v1/audit", "/v1/audit", true, 403},
		{"stats without a token", "/v1/stats", "/v1/stats", false, 401},
		{"healthz", "/healthz", "/healthz", false, 200},
		{"readyz", "/readyz", "/readyz", false, 200},
		{"metrics", "/metrics", "/metrics", false, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", svc.api.URL+tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.token {
				req.Header.Set("Authorization", "Bearer "+apiToken)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s: %d, want %d: %s", tc.url, resp.StatusCode, tc.want, body)
			}
			checkResponse(t, s, "GET", tc.path, resp, body)
		})
	}
}

// testAuditTrail holds every record the API wrote to the audit topic (one per answered /v1
// request of testAPI) to docs/schemas/audit.schema.json.
func testAuditTrail(t *testing.T, s *Schemas, svc *service) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	trail := api.NewKafkaAudit(kafkaio.Kafka{Brokers: []string{svc.addr}}, svc.topics.Audit)
	defer trail.Close()
	n := 0
	err := trail.Audit(ctx, api.AuditQuery{}, func(r api.AuditRecord) bool {
		b, _ := json.Marshal(r)
		if err := s.Validate("schemas/audit.schema.json", b); err != nil {
			t.Errorf("audit record does not match docs/schemas/audit.schema.json: %v\n%s", err, b)
		}
		n++
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("%d audit records, want one for each authenticated request of the API test", n)
	}
}
