package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"safetynet/stream/feed"
	"safetynet/stream/kafkatest"
)

// The test runs in the deploy directory; the repository root is its parent.
const root = ".."

// --- promtool -------------------------------------------------------------------------------

func TestPromtoolCheckConfig(t *testing.T) {
	promtool := kafkatest.Tool(t, "promtool", "prometheus")
	run(t, promtool, "check", "config", "prometheus/prometheus.yml")
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := kafkatest.Tool(t, "promtool", "prometheus")
	files, err := RuleFiles(".")
	if err != nil {
		t.Fatal(err)
	}
	run(t, promtool, append([]string{"check", "rules"}, files...)...)
}

func TestPromtoolTestRules(t *testing.T) {
	promtool := kafkatest.Tool(t, "promtool", "prometheus")
	run(t, promtool, "test", "rules", "prometheus/rules_test.yml")
}

// TestDashboardExpressionsParse has promtool parse every dashboard and variable expression,
// written as recording rules, after template substitution.
func TestDashboardExpressionsParse(t *testing.T) {
	promtool := kafkatest.Tool(t, "promtool", "prometheus")
	exprs := expressions(t)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for i, e := range exprs {
		if e.Kind == KindPanel || e.Kind == KindVariable {
			rules = append(rules, rule{Record: fmt.Sprintf("dashboard:expr_%03d", i), Expr: e.Query})
		}
	}
	if len(rules) == 0 {
		t.Fatal("no dashboard expressions")
	}
	b, err := yaml.Marshal(map[string]any{"groups": []map[string]any{{"name": "dashboards", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboards.yml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
	if err != nil {
		// Name the panels behind the failing rules.
		msg := string(out)
		for i, e := range exprs {
			name := fmt.Sprintf("dashboard:expr_%03d", i)
			msg = strings.ReplaceAll(msg, name, name+" ("+e.String()+")")
		}
		t.Fatalf("promtool check rules on the dashboard expressions: %v\n%s", err, msg)
	}
}

// TestRulesTestCoverEveryAlert checks that rules_test.yml shows every alert both firing and not.
func TestRulesTestCoverEveryAlert(t *testing.T) {
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "prometheus/rules_test.yml", &tests)
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, r := range alertRules(t) {
		if !firing[r.Alert] {
			t.Errorf("rules_test.yml has no case where %s fires", r.Alert)
		}
		if !quiet[r.Alert] {
			t.Errorf("rules_test.yml has no case where %s does not fire", r.Alert)
		}
	}
}

func TestAlertRulesTellOperatorsWhatToDo(t *testing.T) {
	ops := readFile(t, filepath.Join(root, "docs", "operations.md"))
	seen := map[string]bool{}
	for _, r := range alertRules(t) {
		if seen[r.Alert] {
			t.Errorf("alert %s defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, s)
		}
		if len(r.Annotations["summary"]) < 20 {
			t.Errorf("alert %s: summary %q is missing or too short", r.Alert, r.Annotations["summary"])
		}
		if len(r.Annotations["description"]) < 100 {
			t.Errorf("alert %s: description %q is missing or too short to say what to do", r.Alert, r.Annotations["description"])
		}
		if !strings.Contains(ops, r.Alert) {
			t.Errorf("alert %s is not explained in docs/operations.md", r.Alert)
		}
	}
}

// --- metric names ---------------------------------------------------------------------------

type metricDef struct {
	kind   string // Counter, Gauge, Histogram, Summary
	labels []string
}

// serviceMetrics reads the metric definitions of the service: every
// prometheus.NewX(prometheus.XOpts{Name: "..."}, []string{labels}) call in the non-test Go files
// of the packages (each package creates its own metrics).
func serviceMetrics(t *testing.T) map[string]metricDef {
	t.Helper()
	defs := map[string]metricDef{}
	var files []string
	for _, dir := range []string{"stream", "state", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range files {
		serviceMetricsIn(t, file, defs)
	}
	if len(defs) < 10 {
		t.Fatalf("found only %d metrics in %v", len(defs), files)
	}
	return defs
}

func serviceMetricsIn(t *testing.T, file string, defs map[string]metricDef) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !strings.HasPrefix(sel.Sel.Name, "New") || len(call.Args) == 0 {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "prometheus" {
			return true
		}
		if sel.Sel.Name == "NewDesc" { // a collector's gauge: NewDesc("name", "help", []string{labels}, nil)
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && len(call.Args) > 2 {
				name, _ := strconv.Unquote(lit.Value)
				def := metricDef{kind: "Gauge"}
				if ls, ok := call.Args[2].(*ast.CompositeLit); ok {
					for _, el := range ls.Elts {
						if s, ok := el.(*ast.BasicLit); ok {
							l, _ := strconv.Unquote(s.Value)
							def.labels = append(def.labels, l)
						}
					}
				}
				defs[name] = def
			}
			return true
		}
		kind := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(sel.Sel.Name, "New"), "Vec"), "Func") // NewGaugeFunc: a gauge
		switch kind {
		case "Counter", "Gauge", "Histogram", "Summary":
		default:
			return true
		}
		opts, ok := call.Args[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		var def metricDef
		def.kind = kind
		var name string
		for _, el := range opts.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Name" {
				if lit, ok := kv.Value.(*ast.BasicLit); ok {
					name, _ = strconv.Unquote(lit.Value)
				}
			}
		}
		if name == "" {
			t.Errorf("%s: %s without a literal Name", file, sel.Sel.Name)
			return true
		}
		if len(call.Args) > 1 {
			if lit, ok := call.Args[1].(*ast.CompositeLit); ok {
				for _, el := range lit.Elts {
					if s, ok := el.(*ast.BasicLit); ok {
						l, _ := strconv.Unquote(s.Value)
						def.labels = append(def.labels, l)
					}
				}
			}
		}
		defs[name] = def
		return true
	})
}

// selector is one vector selector of an expression: a metric name and its label matchers.
type selector struct {
	metric   string
	matchers map[string]string // label → matcher text, e.g. `="safetynet"`
}

var (
	identRe               = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	matcherRe             = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')`)
	aggregationModifierRe = regexp.MustCompile(`^(?i:by|without)\s*\(`)
	// Words of PromQL that are not metric names.
	promqlWords = map[string]bool{
		"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true,
		"ignoring": true, "group_left": true, "group_right": true, "bool": true, "offset": true,
		"inf": true, "nan": true, "start": true, "end": true,
	}
)

// selectors finds the vector selectors of a PromQL expression: identifiers that are not
// functions, aggregations, keywords, label lists or durations.
func selectors(expr string) []selector {
	var out []selector
	depthLabels := false // inside by (...) / on (...) lists
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i) + 1
			continue
		case c == '[': // range or subquery duration
			j := strings.IndexByte(expr[i:], ']')
			i += j + 1
			continue
		case c == ')':
			depthLabels = false
		}
		loc := identRe.FindStringIndex(expr[i:])
		if loc == nil || loc[0] != 0 || (i > 0 && (identChar(expr[i-1]) || expr[i-1] == '.')) {
			i++
			continue
		}
		word := expr[i : i+loc[1]]
		i += loc[1]
		rest := strings.TrimLeft(expr[i:], " \t\n")
		lower := strings.ToLower(word)
		switch {
		case depthLabels:
			continue
		case promqlWords[lower]:
			if (lower == "by" || lower == "without" || lower == "on" || lower == "ignoring" ||
				lower == "group_left" || lower == "group_right") && strings.HasPrefix(rest, "(") {
				depthLabels = true
			}
			if lower == "offset" { // skip the duration
				i = len(expr) - len(rest)
				for i < len(expr) && (identChar(expr[i]) || expr[i] == '-') {
					i++
				}
			}
			continue
		case strings.HasPrefix(rest, "("):
			continue // a function or aggregation call
		case aggregationModifierRe.MatchString(rest):
			continue // an aggregation: sum by (x) (...)
		case numberStart(word):
			continue
		}
		s := selector{metric: word, matchers: map[string]string{}}
		if strings.HasPrefix(rest, "{") {
			start := len(expr) - len(rest)
			end := start + closingBrace(expr[start:])
			for _, m := range matcherRe.FindAllStringSubmatch(expr[start:end], -1) {
				s.matchers[m[1]] = m[2] + m[3]
			}
			i = end
		}
		out = append(out, s)
	}
	return out
}

func numberStart(w string) bool { return w[0] >= '0' && w[0] <= '9' }

func closingBrace(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
		case '}':
			return i + 1
		}
	}
	return len(s)
}

func TestSelectors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up{job="safetynet"} == 0`, []string{`up{job="safetynet"}`}},
		{`histogram_quantile(0.9, sum by (le, feed) (rate(a_bucket{job="x", feed=~"$feed"}[$__rate_interval])))`, []string{`a_bucket{feed=~"$feed",job="x"}`}},
		{`time() - max by (feed) (b{job="x"}) > 7200 or sum by (feed) (c offset 2h) == 0`, []string{`b{job="x"}`, `c{}`}},
		{`deriv(sum by (topic) (d{job="x"})[10m:1m]) > 0 and on (feed) e / on (feed) group_left f`, []string{`d{job="x"}`, `e{}`, `f{}`}},
		{`sum(x{a="b{c}"}) or vector(0)`, []string{`x{a="b{c}"}`}},
	} {
		var got []string
		for _, s := range selectors(tc.expr) {
			var ms []string
			for k, v := range s.matchers {
				ms = append(ms, k+v)
			}
			sort.Strings(ms)
			got = append(got, s.metric+"{"+strings.Join(ms, ",")+"}")
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("selectors(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// TestExpressionsUseServiceMetrics checks every metric name of every dashboard panel, variable
// and rule against the metrics the service defines, and every label matcher against the metric's labels, and
// that every selector selects the job: job="safetynet" in rules (the label the scrape
// configuration sets), the dashboard's $job and $namespace variables in dashboards (but for the
// job variable's own query, which lists the jobs).
func TestExpressionsUseServiceMetrics(t *testing.T) {
	defs := serviceMetrics(t)
	builtin := map[string]bool{"up": true} // series Prometheus itself writes for the scrape
	for _, e := range expressions(t) {
		sels := selectors(e.Raw)
		if len(sels) == 0 {
			t.Errorf("%s: no series selector in %q", e, e.Raw)
		}
		for _, s := range sels {
			allowed := []string{"job", "instance", "namespace"}
			switch {
			case builtin[s.metric]:
			case defs[s.metric].kind != "":
				allowed = append(allowed, defs[s.metric].labels...)
			default:
				base, suffix := histogramBase(s.metric)
				d := defs[base]
				if d.kind != "Histogram" && d.kind != "Summary" {
					t.Errorf("%s: metric %s is not defined by the service", e, s.metric)
					continue
				}
				allowed = append(allowed, d.labels...)
				if suffix == "_bucket" {
					allowed = append(allowed, "le")
				}
			}
			switch {
			case e.Kind == KindAlert || e.Kind == KindRecord:
				if got := s.matchers["job"]; got != `="safetynet"` {
					t.Errorf("%s: selector of %s has job matcher %q, want =\"safetynet\"", e, s.metric, got)
				}
			case e.Kind == KindVariable && e.Name == "job":
				if len(s.matchers) != 0 {
					t.Errorf("%s: the job variable's selector %s has matchers %v, want none (it lists every job)", e, s.metric, s.matchers)
				}
			case e.Kind == KindVariable && e.Name == "namespace":
				if got := s.matchers["job"]; got != `="$job"` {
					t.Errorf("%s: selector of %s has job matcher %q, want =\"$job\"", e, s.metric, got)
				}
			default:
				if got := s.matchers["job"]; got != `="$job"` {
					t.Errorf("%s: selector of %s has job matcher %q, want =\"$job\"", e, s.metric, got)
				}
				if got := s.matchers["namespace"]; got != `=~"$namespace"` {
					t.Errorf("%s: selector of %s has namespace matcher %q, want =~\"$namespace\"", e, s.metric, got)
				}
			}
			for l := range s.matchers {
				if !slices.Contains(allowed, l) {
					t.Errorf("%s: %s has no label %q (labels: %v)", e, s.metric, l, allowed)
				}
			}
		}
	}
}

func histogramBase(name string) (string, string) {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if strings.HasSuffix(name, suf) {
			return strings.TrimSuffix(name, suf), suf
		}
	}
	return name, ""
}

// TestEveryMetricDocumentedAndShown: operators find every metric in docs/metrics.md and on a
// dashboard.
func TestEveryMetricDocumentedAndShown(t *testing.T) {
	doc := readFile(t, filepath.Join(root, "docs", "metrics.md"))
	shown := map[string]bool{}
	for _, e := range expressions(t) {
		if e.Kind != KindPanel {
			continue
		}
		for _, s := range selectors(e.Raw) {
			base, _ := histogramBase(s.metric)
			shown[base], shown[s.metric] = true, true
		}
	}
	for name := range serviceMetrics(t) {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("metric %s is not documented in docs/metrics.md", name)
		}
		if !shown[name] {
			t.Errorf("metric %s is on no dashboard panel", name)
		}
	}
}

func TestSignals(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up{job="safetynet"} == 0`, []string{`up{job="safetynet"}`}},
		{"sum(a) > 1000\nand\nderiv(sum(a)[10m:1m]) > 0", []string{"sum(a)", "deriv(sum(a)[10m:1m])"}},
		{`(time() - max by (feed) (b) > 7200) or (sum by (feed) (increase(c[2h])) == 0 and on (feed) sum by (feed) (c offset 2h))`,
			[]string{"time() - max by (feed) (b)", "sum by (feed) (increase(c[2h]))", "sum by (feed) (c offset 2h)"}},
		{`sum by (feed, reason) (rate(d[15m])) / on (feed) group_left sum by (feed) (rate(e[15m])) > 0.01`,
			[]string{"sum by (feed, reason) (rate(d[15m])) / on (feed) group_left sum by (feed) (rate(e[15m]))"}},
		{`f{a="x > y and z"} / g < 0.4 and predict_linear(f[6h], 24 * 3600) < 0`,
			[]string{`f{a="x > y and z"} / g`, "predict_linear(f[6h], 24 * 3600)"}},
		{`0 < bool h`, []string{"h"}},
		{`sum(rate(i[5m]))`, []string{"sum(rate(i[5m]))"}},
		{`brand_x > 1 unless ignoring (instance) j`, []string{"brand_x", "j"}},
		{`absent(up{job="safetynet"} == 1)`, []string{`up{job="safetynet"}`}},
		{`absent_over_time(k{job="x"}[10m]) or absent(l)`, []string{`k{job="x"}`, "l"}},
		{`absent(m) > 0`, []string{"m"}},
		{`absentee > 0`, []string{"absentee"}},
	} {
		if got := Signals(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("Signals(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestExpressions(t *testing.T) {
	exprs := expressions(t)
	kinds := map[Kind]int{}
	files := map[string]bool{}
	for _, e := range exprs {
		kinds[e.Kind]++
		files[e.File] = true
		if strings.Contains(e.Query, "$") || strings.Contains(e.Query, "[[") {
			t.Errorf("%s: template variable left in %q", e, e.Query)
		}
		if len(e.Signals) == 0 {
			t.Errorf("%s: no signals", e)
		}
	}
	alerts := alertRules(t)
	if kinds[KindAlert] != len(alerts) {
		t.Errorf("%d alert expressions, want %d (one per rule)", kinds[KindAlert], len(alerts))
	}
	dashboards, _ := filepath.Glob("grafana/dashboards/*.json")
	for _, d := range dashboards {
		if !files[filepath.ToSlash(d)] {
			t.Errorf("no expression from %s", d)
		}
	}
	if kinds[KindPanel] < 30 || kinds[KindVariable] < 1 {
		t.Errorf("expressions by kind %v: want at least 30 panel targets and a variable", kinds)
	}
	if _, err := ExpressionsWith(".", map[string]string{"feed": "x", "job": "safetynet", "namespace": ".*"}); err == nil ||
		!strings.Contains(err.Error(), "__rate_interval") {
		t.Errorf("ExpressionsWith without __rate_interval: err %v, want one naming the variable", err)
	}
}

// --- dashboards and provisioning --------------------------------------------------------------

func TestDashboards(t *testing.T) {
	files, _ := filepath.Glob("grafana/dashboards/*.json")
	if len(files) != 3 {
		t.Fatalf("dashboards %v, want pipeline health, risk overview and feed detail", files)
	}
	builtins := map[string]bool{"__rate_interval": true, "__interval": true, "__interval_ms": true,
		"__range": true, "__range_s": true, "__range_ms": true}
	uids := map[string]string{}
	for _, file := range files {
		var raw map[string]any
		if err := json.Unmarshal([]byte(readFile(t, file)), &raw); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		d, err := ReadDashboard(file)
		if err != nil {
			t.Fatal(err)
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid %q title %q", file, d.UID, d.Title)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %s", file, other, d.UID)
		}
		uids[d.UID] = file
		vars := map[string]bool{}
		for _, v := range d.Templating.List {
			vars[v.Name] = true
			if v.Name == "datasource" && (v.Type != "datasource" || v.QueryString() != "prometheus") {
				t.Errorf("%s: variable datasource is type %q query %q, want a prometheus datasource variable", file, v.Type, v.QueryString())
			}
			if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
				t.Errorf("%s: variable %s does not query ${datasource}", file, v.Name)
			}
		}
		for _, v := range []string{"datasource", "job", "namespace"} {
			if !vars[v] {
				t.Errorf("%s: no %s variable", file, v)
			}
		}
		if strings.Contains(file, "feed") && !vars["feed"] {
			t.Errorf("%s: no feed variable", file)
		}
		ids := map[int]bool{}
		for _, p := range d.AllPanels() {
			where := fmt.Sprintf("%s: panel %d %q", file, p.ID, p.Title)
			if ids[p.ID] {
				t.Errorf("%s: duplicate id", where)
			}
			ids[p.ID] = true
			if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
				t.Errorf("%s: datasource %+v, want prometheus ${datasource}", where, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no targets", where)
			}
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: gridPos %+v outside the 24 columns", where, p.GridPos)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
					t.Errorf("%s target %s: datasource %+v", where, tg.RefID, tg.Datasource)
				}
				for _, v := range TemplateVars(tg.Expr) {
					if !vars[v] && !builtins[v] {
						t.Errorf("%s target %s: uses $%s, which the dashboard does not define", where, tg.RefID, v)
					}
				}
			}
		}
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, Type, URL, UID string
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" {
		t.Errorf("datasource provisioning %+v, want one prometheus datasource", ds)
	}
	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/safetynet.yml", &prov)
	if prov.APIVersion != 1 || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" {
		t.Fatalf("dashboard provisioning %+v, want one file provider", prov)
	}

	// The compose file mounts the dashboards where the provider looks, the provisioning where
	// Grafana looks, and Prometheus's datasource URL names the compose service.
	c := compose(t)
	mounts := c.Services["grafana"].Volumes
	wantDash := "./grafana/dashboards:" + prov.Providers[0].Options.Path
	if !slices.ContainsFunc(mounts, func(m string) bool { return strings.HasPrefix(m, wantDash) }) {
		t.Errorf("grafana volumes %v: want %s", mounts, wantDash)
	}
	if !slices.ContainsFunc(mounts, func(m string) bool { return strings.HasPrefix(m, "./grafana/provisioning:/etc/grafana/provisioning") }) {
		t.Errorf("grafana volumes %v: want ./grafana/provisioning:/etc/grafana/provisioning", mounts)
	}
	if u := ds.Datasources[0].URL; u != "http://prometheus:9090" || c.Services["prometheus"].Image == "" {
		t.Errorf("datasource url %q, want http://prometheus:9090, the compose service", u)
	}
}

// --- Prometheus configuration against the deployment --------------------------------------------

func TestPrometheusScrapesSafetynet(t *testing.T) {
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &cfg)
	c := compose(t)
	found := false
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != "safetynet" {
			continue
		}
		found = true
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("metrics_path %q", sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, port, _ := strings.Cut(target, ":")
				if _, ok := c.Services[host]; !ok {
					t.Errorf("scrape target %s: no compose service %s", target, host)
				}
				env := c.Services["safetynet"].Environment
				addr, name := env["SAFETYNET_METRICS_ADDR"], "SAFETYNET_METRICS_ADDR"
				if addr == "" {
					addr, name = env["SAFETYNET_HTTP_ADDR"], "SAFETYNET_HTTP_ADDR"
				}
				if want := httpPort(t, addr); port != want {
					t.Errorf("scrape target %s: port %s, want %s's %s", target, port, name, want)
				}
			}
		}
	}
	if !found {
		t.Error(`no scrape config with job_name "safetynet"`)
	}
	// Prometheus in compose reads this very file and its rules.
	p := c.Services["prometheus"]
	if !slices.Contains(p.Volumes, "./prometheus:/etc/prometheus:ro") || !slices.Contains(toStrings(p.Command), "--config.file=/etc/prometheus/prometheus.yml") {
		t.Errorf("compose prometheus: volumes %v command %v, want ./prometheus mounted and its prometheus.yml as config", p.Volumes, p.Command)
	}
}

// --- configuration variables ------------------------------------------------------------------

func configVars(t *testing.T) []string {
	t.Helper()
	var vars []string
	for _, l := range strings.Split(strings.TrimSpace(readFile(t, "config-vars.txt")), "\n") {
		vars = append(vars, strings.TrimSpace(l))
	}
	return vars
}

var varNameRe = regexp.MustCompile(`\bSAFETYNET_[A-Z0-9_]+\b`)

func TestConfigVarsList(t *testing.T) {
	vars := configVars(t)
	if !slices.IsSorted(vars) {
		t.Error("config-vars.txt is not sorted")
	}
	for i, v := range vars {
		if !regexp.MustCompile(`^SAFETYNET_[A-Z0-9_]+$`).MatchString(v) {
			t.Errorf("config-vars.txt line %d: %q is not a SAFETYNET_ variable name", i+1, v)
		}
		if i > 0 && vars[i-1] == v {
			t.Errorf("config-vars.txt: %s twice", v)
		}
	}
	for _, required := range []string{"SAFETYNET_KAFKA_BROKERS", "SAFETYNET_PSEUDONYM_KEY", "SAFETYNET_STATE_DIR", "SAFETYNET_HTTP_ADDR"} {
		if !slices.Contains(vars, required) {
			t.Errorf("config-vars.txt lacks %s", required)
		}
	}
}

// TestDeploymentSetsOnlyKnownVariables: every SAFETYNET_* variable the Dockerfile, the compose
// file and the manifests name is one the service reads.
func TestDeploymentSetsOnlyKnownVariables(t *testing.T) {
	known := configVars(t)
	files := []string{"Dockerfile", "docker-compose.yml"}
	k8s, _ := filepath.Glob("k8s/*.yaml")
	envFiles, _ := filepath.Glob("k8s/*.env")
	files = append(append(files, k8s...), envFiles...)
	for _, f := range files {
		for _, v := range varNameRe.FindAllString(readFile(t, f), -1) {
			if !slices.Contains(known, v) {
				t.Errorf("%s names %s, which is not in config-vars.txt", f, v)
			}
		}
	}
	env := compose(t).Services["safetynet"].Environment
	for name := range env {
		if strings.HasPrefix(name, "SAFETYNET_") && !slices.Contains(known, name) {
			t.Errorf("compose safetynet sets %s, which is not in config-vars.txt", name)
		}
	}
	if err := feed.CheckPseudonymKey([]byte(env["SAFETYNET_PSEUDONYM_KEY"])); err != nil {
		t.Errorf("compose safetynet: SAFETYNET_PSEUDONYM_KEY: %v", err)
	}
	if k := env["SAFETYNET_STATE_ENCRYPTION_KEY"]; k != "" && !regexp.MustCompile(`^([0-9a-f]{32}|[0-9a-f]{48}|[0-9a-f]{64})$`).MatchString(k) {
		t.Errorf("compose safetynet: SAFETYNET_STATE_ENCRYPTION_KEY %q is not 32, 48 or 64 hex characters", k)
	}
}

// --- images -----------------------------------------------------------------------------------

var fromRe = regexp.MustCompile(`(?mi)^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?`)

func TestImagesHaveExplicitTags(t *testing.T) {
	var images []string
	stages := map[string]bool{}
	for _, m := range fromRe.FindAllStringSubmatch(readFile(t, "Dockerfile"), -1) {
		if !stages[m[1]] {
			images = append(images, "Dockerfile: "+m[1])
		}
		if m[2] != "" {
			stages[m[2]] = true
		}
	}
	for name, s := range compose(t).Services {
		if s.Image == "" {
			t.Errorf("compose service %s has no image", name)
		}
		images = append(images, "docker-compose.yml "+name+": "+s.Image)
	}
	for _, d := range k8sDocs(t) {
		for _, c := range d.Spec.Template.Spec.Containers {
			images = append(images, d.file+" "+c.Name+": "+c.Image)
		}
	}
	for _, ref := range images {
		_, image, _ := strings.Cut(ref, ": ")
		if !explicitTag(image) {
			t.Errorf("%s: image without an explicit tag or digest", ref)
		}
	}
	if len(images) < 8 {
		t.Errorf("found only %d images: %v", len(images), images)
	}
}

func explicitTag(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	last := image[strings.LastIndex(image, "/")+1:]
	name, tag, ok := strings.Cut(last, ":")
	return ok && name != "" && tag != ""
}

func TestDockerfile(t *testing.T) {
	df := readFile(t, "Dockerfile")
	for _, want := range []string{
		"FROM golang:1.26 AS build", "CGO_ENABLED=0", "-trimpath", "./cmd/safetynet",
		"FROM gcr.io/distroless/static-debian12:nonroot", "USER 65532:65532", "EXPOSE 8080",
		`ENTRYPOINT ["/safetynet"]`, `CMD ["run"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// COPY sources exist relative to the build context, the repository root.
	for _, m := range regexp.MustCompile(`(?m)^COPY\s+(?:--\S+\s+)*(.+)\s+\S+$`).FindAllStringSubmatch(df, -1) {
		if strings.Contains(m[0], "--from=") {
			continue
		}
		for _, src := range strings.Fields(m[1]) {
			if _, err := os.Stat(filepath.Join(root, src)); err != nil {
				t.Errorf("Dockerfile: COPY %s: %v", src, err)
			}
		}
	}
}

// --- docker compose ---------------------------------------------------------------------------

type composeService struct {
	Image       string            `yaml:"image"`
	Build       *composeBuild     `yaml:"build"`
	Command     any               `yaml:"command"`
	Entrypoint  any               `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

func compose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	readYAML(t, "docker-compose.yml", &c)
	return c
}

// The topics safetynet uses, by default name.
var defaultTopics = map[string]string{
	"SAFETYNET_TOPIC_REGISTRY":         "safetynet.feed.registry",
	"SAFETYNET_TOPIC_HOSPITAL":         "safetynet.feed.hospital",
	"SAFETYNET_TOPIC_PENSION":          "safetynet.feed.pension",
	"SAFETYNET_TOPIC_EMPLOYMENT":       "safetynet.feed.employment",
	"SAFETYNET_TOPIC_DISABILITY":       "safetynet.feed.disability",
	"SAFETYNET_TOPIC_CASEWORK":         "safetynet.feed.casework",
	"SAFETYNET_TOPIC_HOUSEHOLD_EVENTS": "safetynet.household-events",
	"SAFETYNET_TOPIC_DLQ":              "safetynet.dlq",
	"SAFETYNET_TOPIC_ALERTS":           "safetynet.alerts",
	"SAFETYNET_TOPIC_CHANGELOG":        "safetynet.changelog",
}

func TestCompose(t *testing.T) {
	c := compose(t)
	for _, name := range []string{"kafka", "topics", "safetynet", "feedgen", "prometheus", "alertmanager", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no compose service %s", name)
		}
	}
	if img := c.Services["kafka"].Image; !strings.HasPrefix(img, "apache/kafka:") && !strings.HasPrefix(img, "bitnami/kafka:") {
		t.Errorf("kafka image %q", img)
	}
	if c.Services["kafka"].Environment["KAFKA_PROCESS_ROLES"] != "broker,controller" {
		t.Errorf("kafka is not a combined KRaft broker and controller: %v", c.Services["kafka"].Environment)
	}

	// safetynet and feedgen run the image built by deploy/Dockerfile from the repository root.
	for _, name := range []string{"safetynet", "feedgen"} {
		s := c.Services[name]
		if s.Build == nil || s.Build.Context != ".." || s.Build.Dockerfile != "deploy/Dockerfile" || s.Image != "safetynet:latest" {
			t.Errorf("%s: build %+v image %q, want context .., deploy/Dockerfile, safetynet:latest", name, s.Build, s.Image)
		}
		if s.DependsOn["topics"].Condition != "service_completed_successfully" {
			t.Errorf("%s does not wait for the topics", name)
		}
	}
	if got, want := toStrings(c.Services["feedgen"].Command), []string{"feedgen", "-brokers", "kafka:9092", "-rate", "500"}; !slices.Equal(got, want) {
		t.Errorf("feedgen command %q, want %q", got, want)
	}
	sn := c.Services["safetynet"]
	if sn.Environment["SAFETYNET_KAFKA_BROKERS"] != "kafka:9092" {
		t.Errorf("safetynet brokers %q", sn.Environment["SAFETYNET_KAFKA_BROKERS"])
	}
	stateDir := sn.Environment["SAFETYNET_STATE_DIR"]
	if !slices.ContainsFunc(sn.Volumes, func(v string) bool {
		vol, target, _ := strings.Cut(v, ":")
		_, named := c.Volumes[vol]
		return named && (stateDir == target || strings.HasPrefix(stateDir, target+"/"))
	}) {
		t.Errorf("safetynet volumes %v: none is a named volume holding SAFETYNET_STATE_DIR %s", sn.Volumes, stateDir)
	}

	// The topics service runs `safetynet topics create` with the topic names safetynet uses.
	tp := c.Services["topics"]
	cmd := toStrings(tp.Command)
	if tp.Image != sn.Image || len(cmd) < 2 || cmd[0] != "topics" || cmd[1] != "create" || !slices.Contains(cmd, "-partitions") {
		t.Errorf("topics: image %q command %q, want the safetynet image running topics create -partitions N", tp.Image, cmd)
	}
	if tp.DependsOn["kafka"].Condition != "service_healthy" {
		t.Error("topics does not wait for a healthy kafka")
	}
	if tp.Environment["SAFETYNET_KAFKA_BROKERS"] != sn.Environment["SAFETYNET_KAFKA_BROKERS"] {
		t.Errorf("topics brokers %q, safetynet's %q", tp.Environment["SAFETYNET_KAFKA_BROKERS"], sn.Environment["SAFETYNET_KAFKA_BROKERS"])
	}
	for v := range defaultTopics {
		if tp.Environment[v] != sn.Environment[v] {
			t.Errorf("topics sets %s=%q, safetynet %q: both must name the same topic", v, tp.Environment[v], sn.Environment[v])
		}
	}
}

// --- Kubernetes -------------------------------------------------------------------------------

type k8sContainer struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
		SecretRef    *struct{ Name string } `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	LivenessProbe   *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe  *k8sProbe `yaml:"readinessProbe"`
	StartupProbe    *k8sProbe `yaml:"startupProbe"`
	SecurityContext *struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sDoc struct {
	file       string
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas    int    `yaml:"replicas"`
		ServiceName string `yaml:"serviceName"`
		ClusterIP   string `yaml:"clusterIP"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		ServiceSelector map[string]string `yaml:"-"`
		MaxUnavailable  any               `yaml:"maxUnavailable"`
		Template        struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
					FSGroup      int   `yaml:"fsGroup"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string                 `yaml:"name"`
					ConfigMap *struct{ Name string } `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

// kustomizationFile is the part of k8s/kustomization.yaml the tests read.
type kustomizationFile struct {
	Kind               string   `yaml:"kind"`
	Namespace          string   `yaml:"namespace"`
	Resources          []string `yaml:"resources"`
	ConfigMapGenerator []struct {
		Name  string   `yaml:"name"`
		Envs  []string `yaml:"envs"`
		Files []string `yaml:"files"`
	} `yaml:"configMapGenerator"`
	Images []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
		Digest  string `yaml:"digest"`
	} `yaml:"images"`
}

func kustomization(t *testing.T) kustomizationFile {
	t.Helper()
	var k kustomizationFile
	readYAML(t, "k8s/kustomization.yaml", &k)
	return k
}

// generatorSources are the files of k8s/ that configMapGenerator reads.
func generatorSources(k kustomizationFile) map[string]bool {
	out := map[string]bool{}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range append(slices.Clone(g.Envs), g.Files...) {
			out[f] = true
		}
	}
	return out
}

// generatedConfigMaps builds the ConfigMaps configMapGenerator makes (without the hash suffix
// kustomize adds to the names and to the references to them).
func generatedConfigMaps(t *testing.T, k kustomizationFile) []k8sDoc {
	t.Helper()
	var docs []k8sDoc
	for _, g := range k.ConfigMapGenerator {
		d := k8sDoc{file: "k8s/kustomization.yaml configMapGenerator " + g.Name, APIVersion: "v1", Kind: "ConfigMap", Data: map[string]string{}}
		d.Metadata.Name = g.Name
		for _, f := range g.Envs {
			for i, l := range strings.Split(readFile(t, filepath.Join("k8s", f)), "\n") {
				if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				k, v, ok := strings.Cut(l, "=")
				if !ok {
					t.Errorf("k8s/%s line %d: %q is not NAME=value", f, i+1, l)
				}
				d.Data[k] = v
			}
		}
		for _, f := range g.Files {
			d.Data[filepath.Base(f)] = readFile(t, filepath.Join("k8s", f))
		}
		docs = append(docs, d)
	}
	return docs
}

// k8sDocs parses every manifest of k8s/ (multi-document), kustomization.yaml and the
// generator sources excluded, and adds the generated ConfigMaps.
func k8sDocs(t *testing.T) []k8sDoc {
	t.Helper()
	files, _ := filepath.Glob("k8s/*.yaml")
	k := kustomization(t)
	sources := generatorSources(k)
	docs := generatedConfigMaps(t, k)
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" || sources[filepath.Base(f)] {
			continue
		}
		dec := yaml.NewDecoder(strings.NewReader(readFile(t, f)))
		for i := 0; ; i++ {
			var node yaml.Node
			if err := dec.Decode(&node); err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var d k8sDoc
			if err := node.Decode(&d); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var sel struct {
				Spec struct {
					Selector map[string]any `yaml:"selector"`
				} `yaml:"spec"`
			}
			_ = node.Decode(&sel)
			if d.Kind == "Service" {
				d.Spec.ServiceSelector = map[string]string{}
				for k, v := range sel.Spec.Selector {
					d.Spec.ServiceSelector[k] = fmt.Sprint(v)
				}
			}
			d.file = f
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		t.Fatal("no manifests in k8s/")
	}
	return docs
}

func TestKustomization(t *testing.T) {
	k := kustomization(t)
	if k.Kind != "Kustomization" || k.Namespace != "" {
		t.Errorf("kustomization kind %q namespace %q, want a namespace-less Kustomization", k.Kind, k.Namespace)
	}
	// Every manifest but the example Secret; the ConfigMaps are generated from their files.
	files, _ := filepath.Glob("k8s/*.yaml")
	sources := generatorSources(k)
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !strings.HasSuffix(b, ".example.yaml") && !sources[b] {
			want = append(want, b)
		}
	}
	for _, f := range []string{"safetynet.env", "model.yaml"} {
		if !sources[f] {
			t.Errorf("configMapGenerator does not read %s: a change of it would not roll the pods", f)
		}
	}
	if _, err := os.Stat("k8s/secret.example.yaml"); err != nil {
		t.Errorf("no example Secret: %v", err)
	}
	if len(k.Images) == 0 {
		t.Error("kustomization pins no image")
	}
	for _, img := range k.Images {
		if img.Digest == "" && (img.NewTag == "" || img.NewTag == "latest") {
			t.Errorf("kustomization image %s: tag %q, want a fixed version", img.Name, img.NewTag)
		}
	}
	got := slices.Clone(k.Resources)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %v, want every manifest %v", got, want)
	}
}

func TestKubernetesManifests(t *testing.T) {
	docs := k8sDocs(t)
	byKind := map[string][]k8sDoc{}
	byName := map[string]k8sDoc{}
	for _, d := range docs {
		if d.APIVersion == "" || d.Kind == "" || d.Metadata.Name == "" {
			t.Errorf("%s: apiVersion %q kind %q name %q", d.file, d.APIVersion, d.Kind, d.Metadata.Name)
		}
		if d.Metadata.Namespace != "" {
			t.Errorf("%s: %s %s sets namespace %q; manifests are namespace-less", d.file, d.Kind, d.Metadata.Name, d.Metadata.Namespace)
		}
		byKind[d.Kind] = append(byKind[d.Kind], d)
		byName[d.Kind+"/"+d.Metadata.Name] = d
	}
	if len(byKind["StatefulSet"]) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(byKind["StatefulSet"]))
	}
	ss := byKind["StatefulSet"][0]
	pod := ss.Spec.Template.Spec
	podLabels := ss.Spec.Template.Metadata.Labels
	if !subset(ss.Spec.Selector.MatchLabels, podLabels) || len(ss.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("StatefulSet selector %v does not match its pod labels %v", ss.Spec.Selector.MatchLabels, podLabels)
	}
	if pod.TerminationGracePeriodSeconds < 15 {
		t.Errorf("terminationGracePeriodSeconds %d, want at least 15", pod.TerminationGracePeriodSeconds)
	}
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod securityContext: runAsNonRoot is not true")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !strings.HasPrefix(c.Image, "safetynet:") || strings.HasSuffix(c.Image, ":latest") || !slices.Equal(c.Args, []string{"run"}) {
		t.Errorf("container image %q args %v, want safetynet:<fixed version> run", c.Image, c.Args)
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem ||
		c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("container securityContext: want readOnlyRootFilesystem true and allowPrivilegeEscalation false")
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}

	// The environment: ConfigMap and Secret exist, and what they set is read by the service.
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	var secret k8sDoc
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm, ok := byName["ConfigMap/"+ef.ConfigMapRef.Name]
			if !ok {
				t.Fatalf("envFrom ConfigMap %s is not in the manifests", ef.ConfigMapRef.Name)
			}
			for k, v := range cm.Data {
				env[k] = v
			}
		case ef.SecretRef != nil:
			s, ok := byName["Secret/"+ef.SecretRef.Name]
			if !ok {
				t.Fatalf("envFrom Secret %s is not in the manifests", ef.SecretRef.Name)
			}
			secret = s
			for k := range s.StringData {
				env[k] = "(secret)"
			}
		}
	}
	known := configVars(t)
	for k := range env {
		if strings.HasPrefix(k, "SAFETYNET_") && !slices.Contains(known, k) {
			t.Errorf("the pod's environment sets %s, which is not in config-vars.txt", k)
		}
	}
	for _, k := range []string{"SAFETYNET_PSEUDONYM_KEY", "SAFETYNET_STATE_ENCRYPTION_KEY", "SAFETYNET_KAFKA_SASL_PASSWORD"} {
		if _, ok := secret.StringData[k]; !ok {
			t.Errorf("Secret lacks %s", k)
		}
		for _, d := range byKind["ConfigMap"] {
			if _, ok := d.Data[k]; ok {
				t.Errorf("ConfigMap %s holds the secret %s", d.Metadata.Name, k)
			}
		}
	}

	// Ports and probes agree with SAFETYNET_HTTP_ADDR.
	port := httpPort(t, env["SAFETYNET_HTTP_ADDR"])
	portByName := map[string]string{}
	for _, p := range c.Ports {
		portByName[p.Name] = strconv.Itoa(p.ContainerPort)
	}
	if portByName["http"] != port {
		t.Errorf("container port http %q, want SAFETYNET_HTTP_ADDR's %s", portByName["http"], port)
	}
	for _, p := range []struct {
		name  string
		probe *k8sProbe
		path  string
	}{{"startup", c.StartupProbe, "/healthz"}, {"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path {
			got := "none"
			if p.probe != nil && p.probe.HTTPGet != nil {
				got = "GET " + p.probe.HTTPGet.Path
			}
			t.Errorf("%s probe %s, want GET %s", p.name, got, p.path)
			continue
		}
		if pp := fmt.Sprint(p.probe.HTTPGet.Port); pp != port && portByName[pp] != port {
			t.Errorf("%s probe port %v, want %s", p.name, p.probe.HTTPGet.Port, port)
		}
	}

	// State lives on the volume claim; the model file on the model ConfigMap.
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if len(ss.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%d volumeClaimTemplates, want 1", len(ss.Spec.VolumeClaimTemplates))
	}
	stateMount := mounts[ss.Spec.VolumeClaimTemplates[0].Metadata.Name]
	if dir := env["SAFETYNET_STATE_DIR"]; stateMount == "" || (dir != stateMount && !strings.HasPrefix(dir, stateMount+"/")) {
		t.Errorf("SAFETYNET_STATE_DIR %q is not on the volume claim (mounted at %q)", dir, stateMount)
	}
	modelFile := env["SAFETYNET_MODEL_FILE"]
	modelOK := false
	for _, v := range pod.Volumes {
		if v.ConfigMap == nil || mounts[v.Name] != path.Dir(modelFile) {
			continue
		}
		cm, ok := byName["ConfigMap/"+v.ConfigMap.Name]
		if _, has := cm.Data[path.Base(modelFile)]; ok && has {
			modelOK = true
		}
	}
	if !modelOK {
		t.Errorf("SAFETYNET_MODEL_FILE %q is not a key of a ConfigMap mounted at its directory", modelFile)
	}

	// Services: a headless one for the StatefulSet and one for HTTP, both selecting the pods.
	var headless, httpSvc bool
	for _, s := range byKind["Service"] {
		if len(s.Spec.ServiceSelector) == 0 || !subset(s.Spec.ServiceSelector, podLabels) {
			t.Errorf("Service %s selector %v does not select the pods %v", s.Metadata.Name, s.Spec.ServiceSelector, podLabels)
		}
		if s.Spec.ClusterIP == "None" {
			headless = headless || s.Metadata.Name == ss.Spec.ServiceName
		} else {
			httpSvc = true
		}
	}
	if !headless || !httpSvc {
		t.Errorf("headless service named %q: %v; HTTP service: %v", ss.Spec.ServiceName, headless, httpSvc)
	}
	if len(byKind["PodDisruptionBudget"]) != 1 || !subset(byKind["PodDisruptionBudget"][0].Spec.Selector.MatchLabels, podLabels) {
		t.Error("want one PodDisruptionBudget selecting the pods")
	}
}

// TestModelConfigMapIsTheDefaultModel: the model file shipped in k8s/ is the built-in default of
// the service built from this tree (`safetynet model show`), and `safetynet model check` accepts
// it.
func TestModelConfigMapIsTheDefaultModel(t *testing.T) {
	var model string
	for _, d := range k8sDocs(t) {
		if d.Kind == "ConfigMap" && d.Data["model.yaml"] != "" {
			model = d.Data["model.yaml"]
		}
	}
	if model == "" {
		t.Fatal("no ConfigMap with model.yaml")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "safetynet")
	build := exec.Command("go", "build", "-o", bin, "./cmd/safetynet")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/safetynet: %v\n%s", err, out)
	}
	show, err := exec.Command(bin, "model", "show").Output()
	if err != nil {
		t.Fatalf("safetynet model show: %v", err)
	}
	if got, want := withoutComments(model), withoutComments(string(show)); got != want {
		t.Errorf("k8s/model-configmap.yaml's model.yaml differs from `safetynet model show`; paste its output into the ConfigMap.\ngot:\n%s\nwant:\n%s", got, want)
	}
	file := filepath.Join(dir, "model.yaml")
	if err := os.WriteFile(file, []byte(model), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "model", "check", file).CombinedOutput(); err != nil {
		t.Errorf("safetynet model check on the ConfigMap's model: %v\n%s", err, out)
	}
}

func withoutComments(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, " \t")
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// --- helpers ----------------------------------------------------------------------------------

func expressions(t *testing.T) []Expr {
	t.Helper()
	exprs, err := Expressions(".")
	if err != nil {
		t.Fatal(err)
	}
	return exprs
}

func alertRules(t *testing.T) []Rule {
	t.Helper()
	files, err := RuleFiles(".")
	if err != nil {
		t.Fatal(err)
	}
	var rules []Rule
	for _, f := range files {
		rg, err := ReadRules(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range rg.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					rules = append(rules, r)
				}
			}
		}
	}
	if len(rules) == 0 {
		t.Fatal("no alert rules")
	}
	return rules
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(readFile(t, name)), v); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
}

func toStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func httpPort(t *testing.T, addr string) string {
	t.Helper()
	_, port, ok := strings.Cut(addr, ":")
	if !ok || port == "" {
		t.Fatalf("SAFETYNET_HTTP_ADDR %q has no port", addr)
	}
	return port
}
