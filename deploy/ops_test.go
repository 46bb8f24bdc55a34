package deploy

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
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
