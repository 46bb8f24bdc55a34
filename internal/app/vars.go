package app

import (
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
)

// Variable is one environment variable of the Config, as its struct tags describe it.
type Variable struct {
	Name     string // SAFETYNET_…
	Default  string // envDefault; "" for none
	Required bool   // no default, must be set
	Desc     string // what it means (Markdown: `code`, [links](…))
	TestOnly bool   // set by tests, never by operators
}

// Variables lists every variable the Config reads, in the struct's order.
func Variables() []Variable { return variables(reflect.TypeFor[Config](), EnvPrefix) }

func variables(t reflect.Type, prefix string) []Variable {
	var out []Variable
	for f := range t.Fields() {
		if p, ok := f.Tag.Lookup("envPrefix"); ok && f.Type.Kind() == reflect.Struct {
			out = append(out, variables(f.Type, prefix+p)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" {
			continue
		}
		out = append(out, Variable{
			Name: prefix + name, Default: f.Tag.Get("envDefault"), Required: f.Tag.Get("doc") == "required",
			Desc: f.Tag.Get("desc"), TestOnly: f.Tag.Get("testOnly") == "true",
		})
	}
	return out
}

// MarkdownRow is the variable's row of README.md's configuration table.
func (v Variable) MarkdownRow() string {
	def := ""
	switch {
	case v.Required:
		def = "**required**"
	case v.Default != "":
		def = "`" + v.Default + "`"
	}
	if def != "" {
		def += " "
	}
	return fmt.Sprintf("| `%s` | %s| %s |", v.Name, def, v.Desc)
}

var mdLink = regexp.MustCompile(`\[([^\]]*)\]\(([^)]*)\)`)

// terminal is Markdown made readable on a terminal: no backticks, a link as its target.
func terminal(s string) string {
	s = mdLink.ReplaceAllString(s, "$2")
	return strings.ReplaceAll(s, "`", "")
}

// Help writes the variables of `safetynet run` with their defaults and meanings (the test-only
// ones left out).
func Help(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	for _, v := range Variables() {
		if v.TestOnly {
			continue
		}
		def := v.Default
		if v.Required {
			def = "(required)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, terminal(v.Desc))
	}
	tw.Flush()
}

// checkUnknown refuses a SAFETYNET_* variable the Config does not read, naming the closest
// known one: a misspelt variable silently ignored is a setting silently not applied.
func checkUnknown(environ map[string]string) error {
	var known []string
	for _, v := range Variables() {
		known = append(known, v.Name)
	}
	var unknown []string
	for k := range environ {
		if strings.HasPrefix(k, EnvPrefix) && !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	var msgs []string
	for _, k := range unknown {
		m := "unknown variable " + k
		if near := closest(k, known); near != "" {
			m += " — did you mean " + near + "?"
		}
		msgs = append(msgs, m)
	}
	return fmt.Errorf("%s (`safetynet run -h` lists the variables)", strings.Join(msgs, "; "))
}

// closest returns the known name nearest to name by edit distance, or "" when none is near
// enough to be a likely misspelling (more than a third of the name differs).
func closest(name string, known []string) string {
	best, bestD := "", len(name)/3+1
	for _, k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes: the names are ASCII).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
