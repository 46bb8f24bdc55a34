package deploy

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"safetynet/stream/kafkatest"
)

// TestAlertRunbooks: every alert's runbook_url is a section of docs/operations.md that exists
// and is about that alert.
func TestAlertRunbooks(t *testing.T) {
	anchors := markdownAnchors(readFile(t, filepath.Join(root, "docs", "operations.md")))
	for _, r := range alertRules(t) {
		u := r.Annotations["runbook_url"]
		file, anchor, ok := strings.Cut(u, "#")
		if file != "docs/operations.md" || !ok || anchor == "" {
			t.Errorf("alert %s: runbook_url %q, want docs/operations.md#<section>", r.Alert, u)
			continue
		}
		heading, ok := anchors[anchor]
		if !ok {
			t.Errorf("alert %s: runbook_url %q: docs/operations.md has no section with anchor %q", r.Alert, u, anchor)
			continue
		}
		if !strings.Contains(heading, r.Alert) {
			t.Errorf("alert %s: runbook_url %q leads to section %q, which is not about it", r.Alert, u, heading)
		}
	}
}

func TestMarkdownAnchors(t *testing.T) {
	got := markdownAnchors("# Operating it\n## Before the first start: topics\n```\n# not a heading\n```\n### SafetynetNotReady\n## Alerts\n## Alerts\n")
	for anchor, heading := range map[string]string{
		"operating-it": "Operating it", "before-the-first-start-topics": "Before the first start: topics",
		"safetynetnotready": "SafetynetNotReady", "alerts": "Alerts", "alerts-1": "Alerts",
	} {
		if got[anchor] != heading {
			t.Errorf("anchor %q: heading %q, want %q (all: %v)", anchor, got[anchor], heading, got)
		}
	}
	if _, ok := got["not-a-heading"]; ok {
		t.Error("a comment in a code block taken for a heading")
	}
}

var nonSlugRe = regexp.MustCompile(`[^\p{L}\p{N}\- _]`)

// markdownAnchors maps the anchors GitHub gives a Markdown document's headings to the headings:
// lower case, punctuation dropped, spaces to hyphens, -1, -2 … for repeats. Code blocks are
// skipped.
func markdownAnchors(doc string) map[string]string {
	out := map[string]string{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		heading := strings.TrimSpace(strings.TrimLeft(line, "#"))
		slug := strings.ReplaceAll(nonSlugRe.ReplaceAllString(strings.ToLower(heading), ""), " ", "-")
		if n := seen[slug]; n > 0 {
			seen[slug]++
			slug += "-" + strconv.Itoa(n)
		} else {
			seen[slug] = 1
		}
		out[slug] = heading
	}
	return out
}

var update = flag.Bool("update", false, "rewrite k8s/monitoring/prometheusrule.yaml from prometheus/rules.yml")

const prometheusRuleFile = "k8s/monitoring/prometheusrule.yaml"

// prometheusRule wraps the rule groups of rules.yml (comments kept) in a PrometheusRule.
func prometheusRule(rules string) string {
	i := strings.Index(rules, "\ngroups:")
	var b strings.Builder
	b.WriteString("# The rule groups of deploy/prometheus/rules.yml as a PrometheusRule for the Prometheus Operator.\n" +
		"# Generated: edit rules.yml, then `go test ./deploy -run TestPrometheusRuleIsRulesYML -update`.\n" +
		"apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: safetynet\n" +
		"  labels:\n    app.kubernetes.io/name: safetynet\nspec:\n")
	for _, l := range strings.Split(strings.TrimRight(rules[i+1:], "\n"), "\n") {
		if l != "" {
			l = "  " + l
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

// TestPrometheusRuleIsRulesYML: the PrometheusRule of the monitoring component has the rule
// groups of prometheus/rules.yml, identical.
func TestPrometheusRuleIsRulesYML(t *testing.T) {
	rules := readFile(t, "prometheus/rules.yml")
	if *update {
		if err := os.WriteFile(prometheusRuleFile, []byte(prometheusRule(rules)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want struct {
		Groups any `yaml:"groups"`
	}
	readYAML(t, "prometheus/rules.yml", &want)
	var got struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       struct {
			Groups any `yaml:"groups"`
		} `yaml:"spec"`
	}
	readYAML(t, prometheusRuleFile, &got)
	if got.Kind != "PrometheusRule" || got.APIVersion != "monitoring.coreos.com/v1" {
		t.Errorf("%s: kind %q apiVersion %q, want a monitoring.coreos.com/v1 PrometheusRule", prometheusRuleFile, got.Kind, got.APIVersion)
	}
	if want.Groups == nil || !reflect.DeepEqual(got.Spec.Groups, want.Groups) {
		t.Errorf("%s: the rule groups differ from prometheus/rules.yml; run go test ./deploy -run TestPrometheusRuleIsRulesYML -update", prometheusRuleFile)
	}
}

// TestMonitoringComponent: the component lists its files, and the ServiceMonitor scrapes the
// headless Service's http port and sets the job label the rules select.
func TestMonitoringComponent(t *testing.T) {
	var comp struct {
		Kind      string   `yaml:"kind"`
		Resources []string `yaml:"resources"`
	}
	readYAML(t, "k8s/monitoring/kustomization.yaml", &comp)
	files, _ := filepath.Glob("k8s/monitoring/*.yaml")
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	got := slices.Clone(comp.Resources)
	slices.Sort(got)
	if comp.Kind != "Component" || !slices.Equal(got, want) {
		t.Errorf("monitoring component: kind %q resources %v, want a Component of %v", comp.Kind, comp.Resources, want)
	}
	var sm struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Endpoints []struct {
				Port        string `yaml:"port"`
				Path        string `yaml:"path"`
				Relabelings []struct {
					Action      string `yaml:"action"`
					TargetLabel string `yaml:"targetLabel"`
					Replacement string `yaml:"replacement"`
				} `yaml:"relabelings"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	readYAML(t, "k8s/monitoring/servicemonitor.yaml", &sm)
	var selected []string
	for _, d := range k8sDocs(t) {
		if d.Kind == "Service" && subset(sm.Spec.Selector.MatchLabels, d.Metadata.Labels) {
			selected = append(selected, d.Metadata.Name)
			if d.Spec.ClusterIP != "None" {
				t.Errorf("the ServiceMonitor selects Service %s, which lists only ready pods; want the headless one", d.Metadata.Name)
			}
		}
	}
	if len(selected) != 1 {
		t.Errorf("the ServiceMonitor selects Services %v, want exactly the headless one", selected)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" {
		t.Fatalf("ServiceMonitor endpoints %+v, want the metrics port (SAFETYNET_METRICS_ADDR)", sm.Spec.Endpoints)
	}
	job := false
	for _, r := range sm.Spec.Endpoints[0].Relabelings {
		job = job || (r.TargetLabel == "job" && r.Replacement == "safetynet" && (r.Action == "" || r.Action == "replace"))
	}
	if !job {
		t.Error(`the ServiceMonitor does not set job="safetynet", which the rules select`)
	}
}

// TestGoMemLimitFollowsTheMemoryLimit: GOMEMLIMIT comes from the container's own memory limit.
func TestGoMemLimitFollowsTheMemoryLimit(t *testing.T) {
	var ss struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Name string `yaml:"name"`
						Env  []struct {
							Name      string `yaml:"name"`
							Value     string `yaml:"value"`
							ValueFrom *struct {
								ResourceFieldRef *struct {
									ContainerName string `yaml:"containerName"`
									Resource      string `yaml:"resource"`
								} `yaml:"resourceFieldRef"`
							} `yaml:"valueFrom"`
						} `yaml:"env"`
						Resources struct {
							Limits map[string]string `yaml:"limits"`
						} `yaml:"resources"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	readYAML(t, "k8s/statefulset.yaml", &ss)
	cs := ss.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	found := false
	for _, e := range cs[0].Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		found = true
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil ||
			e.ValueFrom.ResourceFieldRef.Resource != "limits.memory" || e.ValueFrom.ResourceFieldRef.ContainerName != cs[0].Name {
			t.Errorf("GOMEMLIMIT %+v, want valueFrom.resourceFieldRef limits.memory of container %s", e, cs[0].Name)
		}
	}
	if !found || cs[0].Resources.Limits["memory"] == "" {
		t.Errorf("GOMEMLIMIT set %v, memory limit %q: want both", found, cs[0].Resources.Limits["memory"])
	}
}

// TestAlertmanagerConfig: amtool accepts the configuration and its template, critical alerts
// reach the on-call receiver and warnings the team, and Prometheus in compose sends to it.
func TestAlertmanagerConfig(t *testing.T) {
	amtool := kafkatest.Tool(t, "amtool", "prometheus-alertmanager")
	run(t, amtool, "check-config", "alertmanager/alertmanager.yml")
	for _, tc := range []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname=SafetynetNotReady", "severity=critical", "instance=safetynet-0:8080"}, "safetynet-oncall"},
		{[]string{"alertname=SafetynetFeedSilent", "severity=warning", "feed=pension"}, "safetynet-team"},
	} {
		out, err := exec.Command(amtool, append([]string{"config", "routes", "test", "--config.file=alertmanager/alertmanager.yml"}, tc.labels...)...).Output()
		if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
			t.Errorf("route of %v: %q (err %v), want %s", tc.labels, got, err, tc.want)
		}
	}
	// Every severity the rules use has a route that is not the default's by accident.
	for _, r := range alertRules(t) {
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("alert %s: severity %q has no route", r.Alert, s)
		}
	}

	var cfg struct {
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
	}
	readYAML(t, "prometheus/prometheus.yml", &cfg)
	c := compose(t)
	am := c.Services["alertmanager"]
	if !slices.Contains(am.Volumes, "./alertmanager:/etc/alertmanager:ro") || !slices.Contains(toStrings(am.Command), "--config.file=/etc/alertmanager/alertmanager.yml") {
		t.Errorf("compose alertmanager: volumes %v command %v, want ./alertmanager mounted and its alertmanager.yml as config", am.Volumes, am.Command)
	}
	found := false
	for _, a := range cfg.Alerting.Alertmanagers {
		for _, sc := range a.StaticConfigs {
			for _, target := range sc.Targets {
				host, _, _ := strings.Cut(target, ":")
				found = found || host == "alertmanager"
			}
		}
	}
	if !found {
		t.Error("prometheus.yml sends alerts to no alertmanager compose service")
	}
}
