package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kind says where an expression comes from.
type Kind string

// Kinds of expression.
const (
	KindPanel    Kind = "panel"    // a target of a Grafana dashboard panel
	KindVariable Kind = "variable" // the series selector of a dashboard variable's label_values()
	KindAlert    Kind = "alert"    // the expr of a Prometheus alerting rule
	KindRecord   Kind = "record"   // the expr of a Prometheus recording rule
)

// Expr is one PromQL expression of the deployment, with where it came from.
type Expr struct {
	File  string // relative to the deploy directory, e.g. "grafana/dashboards/pipeline-health.json"
	Where string // within the file, e.g. `panel 7 "Events in per feed" target A`, `alert SafetynetNotReady`
	Kind  Kind
	Name  string // the panel title, the variable name, or the rule's alert or record name
	Raw   string // as written, with Grafana template variables
	Query string // ready to evaluate: template variables replaced by the values Expressions was given
	// Signals are the expressions that must return series while the service runs normally. For
	// panels and variables it is Query itself. An alert rule returns series only while it
	// fires; its signals are the operands its conditions compare (for `a > 1000 and deriv(b) > 0`,
	// `a` and `deriv(b)`), so that a test can tell a rule over missing series from a quiet one.
	Signals []string
}

func (e Expr) String() string { return e.File + ": " + e.Where }

// DefaultTemplateValues are the values Expressions gives Grafana's template variables: the
// built-in interval variables, and for the dashboards' own variables a value that selects
// series a running service has (job safetynet as the scrape configurations name it, every
// namespace, the hospital feed, every instance).
var DefaultTemplateValues = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "30s",
	"__interval_ms":   "30000",
	"__range":         "1h",
	"__range_s":       "3600",
	"__range_ms":      "3600000",
	"datasource":      "prometheus",
	"job":             "safetynet",
	"namespace":       ".*",
	"instance":        ".+",
	"feed":            "hospital",
}

// Expressions returns every PromQL expression of every Grafana dashboard under
// dir/grafana/dashboards and of every rule file that dir/prometheus/prometheus.yml names, with
// template variables replaced by DefaultTemplateValues. dir is the deploy directory.
func Expressions(dir string) ([]Expr, error) {
	return ExpressionsWith(dir, DefaultTemplateValues)
}

// ExpressionsWith is Expressions with the given template variable values. A variable with no
// value is an error, so that a new dashboard variable cannot go unevaluated.
func ExpressionsWith(dir string, vars map[string]string) ([]Expr, error) {
	dashboards, err := filepath.Glob(filepath.Join(dir, "grafana", "dashboards", "*.json"))
	if err != nil {
		return nil, err
	}
	if len(dashboards) == 0 {
		return nil, fmt.Errorf("no dashboards in %s", filepath.Join(dir, "grafana", "dashboards"))
	}
	sort.Strings(dashboards)
	var out []Expr
	for _, path := range dashboards {
		es, err := dashboardExprs(dir, path)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	ruleFiles, err := RuleFiles(dir)
	if err != nil {
		return nil, err
	}
	for _, path := range ruleFiles {
		es, err := ruleExprs(dir, path)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	for i := range out {
		q, err := substitute(out[i].Raw, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", out[i], err)
		}
		out[i].Query = q
		if out[i].Kind == KindAlert {
			out[i].Signals = Signals(q)
		} else {
			out[i].Signals = []string{q}
		}
	}
	return out, nil
}

// RuleFiles returns the rule files dir/prometheus/prometheus.yml names, resolved the way
// Prometheus resolves them (relative to the configuration file, globs expanded).
func RuleFiles(dir string) ([]string, error) {
	cfgPath := filepath.Join(dir, "prometheus", "prometheus.yml")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parse %s: %w", cfgPath, err)
	}
	var files []string
	for _, pattern := range cfg.RuleFiles {
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(filepath.Dir(cfgPath), pattern)
		}
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: rule_files %q: %w", cfgPath, pattern, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("%s: rule_files %q matches no file", cfgPath, pattern)
		}
		files = append(files, m...)
	}
	return files, nil
}

// RuleGroups is the content of a Prometheus rule file.
type RuleGroups struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []Rule `yaml:"rules"`
	} `yaml:"groups"`
}

// Rule is one alerting or recording rule.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ReadRules parses a Prometheus rule file.
func ReadRules(path string) (*RuleGroups, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rg RuleGroups
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rg); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &rg, nil
}

func ruleExprs(dir, path string) ([]Expr, error) {
	rg, err := ReadRules(path)
	if err != nil {
		return nil, err
	}
	rel := relTo(dir, path)
	var out []Expr
	for _, g := range rg.Groups {
		for _, r := range g.Rules {
			e := Expr{File: rel, Raw: strings.TrimSpace(r.Expr)}
			switch {
			case r.Alert != "":
				e.Kind, e.Name, e.Where = KindAlert, r.Alert, "alert "+r.Alert
			case r.Record != "":
				e.Kind, e.Name, e.Where = KindRecord, r.Record, "record "+r.Record
			default:
				return nil, fmt.Errorf("%s: group %s: a rule with neither alert nor record", rel, g.Name)
			}
			if e.Raw == "" {
				return nil, fmt.Errorf("%s: %s: empty expr", rel, e.Where)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// Dashboard is the part of a Grafana dashboard's JSON model the checks read.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is a dashboard panel or row (a collapsed row holds its panels).
type Panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *DatasourceRef `json:"datasource"`
	GridPos    struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []Target `json:"targets"`
	Panels  []Panel  `json:"panels"`
}

// Target is one query of a panel.
type Target struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Datasource *DatasourceRef `json:"datasource"`
}

// DatasourceRef names a datasource by type and uid.
type DatasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Variable is a dashboard template variable.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *DatasourceRef  `json:"datasource"`
}

// QueryString is the variable's query, whether Grafana stored it as a string or an object.
func (v Variable) QueryString() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(v.Query, &o) == nil {
		return o.Query
	}
	return ""
}

// ReadDashboard parses a dashboard JSON file.
func ReadDashboard(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &d, nil
}

// AllPanels returns the dashboard's panels, those inside collapsed rows included, rows excluded.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			if p.Type != "row" {
				out = append(out, p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

var labelValuesRe = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)
var queryResultRe = regexp.MustCompile(`^\s*query_result\(\s*(.+)\s*\)\s*$`)

func dashboardExprs(dir, path string) ([]Expr, error) {
	d, err := ReadDashboard(path)
	if err != nil {
		return nil, err
	}
	rel := relTo(dir, path)
	var out []Expr
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := v.QueryString()
		var sel string
		if m := labelValuesRe.FindStringSubmatch(q); m != nil {
			sel = m[1]
		} else if m := queryResultRe.FindStringSubmatch(q); m != nil {
			sel = m[1]
		}
		if sel == "" {
			continue // label_values(label) and the like query no series
		}
		out = append(out, Expr{File: rel, Where: fmt.Sprintf("variable %s", v.Name), Kind: KindVariable, Name: v.Name, Raw: sel})
	}
	for _, p := range d.AllPanels() {
		for _, t := range p.Targets {
			if strings.TrimSpace(t.Expr) == "" {
				return nil, fmt.Errorf("%s: panel %d %q target %s: empty expr", rel, p.ID, p.Title, t.RefID)
			}
			out = append(out, Expr{
				File: rel, Where: fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, t.RefID),
				Kind: KindPanel, Name: p.Title, Raw: t.Expr,
			})
		}
	}
	return out, nil
}

// templateVarRe matches Grafana's variable syntaxes: ${name}, ${name:format}, $name, [[name]].
var templateVarRe = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]`)

// TemplateVars returns the names of the Grafana template variables s uses.
func TemplateVars(s string) []string {
	var names []string
	for _, m := range templateVarRe.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1]+m[2]+m[3])
	}
	return names
}

func substitute(s string, vars map[string]string) (string, error) {
	var missing []string
	out := templateVarRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := templateVarRe.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for template variable(s) %s", strings.Join(missing, ", "))
	}
	return out, nil
}

func relTo(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil {
		return filepath.ToSlash(r)
	}
	return path
}
