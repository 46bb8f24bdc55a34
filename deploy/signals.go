package deploy

import (
	"regexp"
	"strings"
)

// Signals returns the operands an alert expression's conditions compare: the expression split
// at its top-level set operators (and, or, unless) and comparisons (==, !=, >, <, >=, <=), minus
// number literals and the on/ignoring/group_left/group_right/bool modifiers. For
// `a > 1000 and on (x) deriv(b[5m]) > 0` it returns `a` and `deriv(b[5m])`. An expression with
// no comparison is its own single signal. An absent(x) or absent_over_time(x[d]) condition
// returns series only when x has none, so its signals are those of x.
//
// It is a small scanner, not a PromQL parser: it relies on the expression being valid (promtool
// checks that), and looks only at operators outside parentheses, brackets, braces and strings.
func Signals(expr string) []string {
	expr = strings.TrimSpace(expr)
	if inner, ok := unwrapParens(expr); ok {
		return Signals(inner)
	}
	if inner, ok := absentArg(expr); ok {
		return Signals(inner)
	}
	if parts := splitTop(expr, setOperator); len(parts) > 1 {
		var out []string
		for _, p := range parts {
			out = append(out, Signals(stripModifiers(p))...)
		}
		return out
	}
	if parts := splitTop(expr, comparisonOperator); len(parts) > 1 {
		var out []string
		for _, p := range parts {
			p = stripModifiers(p)
			if numberLiteral.MatchString(p) {
				continue
			}
			out = append(out, Signals(p)...)
		}
		return out
	}
	return []string{expr}
}

var numberLiteral = regexp.MustCompile(`^[0-9.\s+\-*/()eE]+$`)

// stripModifiers removes the vector-matching modifiers that may follow a binary operator:
// bool, on (...), ignoring (...), group_left [(...)], group_right [(...)].
func stripModifiers(s string) string {
	s = strings.TrimSpace(s)
	for {
		n := 0
		for n < len(s) && identChar(s[n]) {
			n++
		}
		switch strings.ToLower(s[:n]) {
		case "bool", "on", "ignoring", "group_left", "group_right":
		default:
			return s
		}
		rest := strings.TrimSpace(s[n:])
		if strings.HasPrefix(rest, "(") {
			if i := strings.IndexByte(rest, ')'); i >= 0 {
				rest = strings.TrimSpace(rest[i+1:])
			}
		}
		s = rest
	}
}

// operatorAt reports the length of the operator of its kind at s[i:], or 0.
type operatorAt func(s string, i int) int

func setOperator(s string, i int) int {
	for _, kw := range []string{"and", "or", "unless"} {
		if len(s)-i >= len(kw) && strings.EqualFold(s[i:i+len(kw)], kw) &&
			(i == 0 || !identChar(s[i-1])) && (i+len(kw) == len(s) || !identChar(s[i+len(kw)])) {
			return len(kw)
		}
	}
	return 0
}

func comparisonOperator(s string, i int) int {
	switch {
	case strings.HasPrefix(s[i:], "=="), strings.HasPrefix(s[i:], "!="),
		strings.HasPrefix(s[i:], ">="), strings.HasPrefix(s[i:], "<="):
		return 2
	case s[i] == '>' || s[i] == '<':
		return 1
	}
	return 0
}

func identChar(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// splitTop splits s at the operators op finds outside brackets and strings.
func splitTop(s string, op operatorAt) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'', '`':
			i = skipString(s, i)
			continue
		case '(', '[', '{':
			depth++
			continue
		case ')', ']', '}':
			depth--
			continue
		case '#':
			if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(s)
			}
			continue
		}
		if depth != 0 {
			continue
		}
		if n := op(s, i); n > 0 {
			parts = append(parts, strings.TrimSpace(s[start:i]))
			i += n - 1
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(s[start:]))
}

// skipString returns the index of the quote that closes the string opening at s[i].
func skipString(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == '\\' && q != '`' {
			j++
			continue
		}
		if s[j] == q {
			return j
		}
	}
	return len(s)
}

// unwrapParens returns s without its outer parentheses when one pair encloses all of it.
func unwrapParens(s string) (string, bool) {
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return s, false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 && i != len(s)-1 {
				return s, false
			}
		}
	}
	return strings.TrimSpace(s[1 : len(s)-1]), true
}

// absentArg returns x of an expression that is all absent(x) or absent_over_time(x[d]).
func absentArg(s string) (string, bool) {
	for _, fn := range []string{"absent", "absent_over_time"} {
		rest, ok := strings.CutPrefix(s, fn)
		if rest = strings.TrimSpace(rest); !ok || !strings.HasPrefix(rest, "(") {
			continue
		}
		inner, ok := unwrapParens(rest)
		if !ok {
			return s, false
		}
		if fn == "absent_over_time" && strings.HasSuffix(inner, "]") {
			if i := strings.LastIndexByte(inner, '['); i > 0 {
				inner = strings.TrimSpace(inner[:i])
			}
		}
		return inner, true
	}
	return s, false
}
