package modelfile

import (
	"fmt"
	"strings"
)

// ICDRange is an inclusive range of ICD-10 codes, each end normalised (upper case, no dot):
// "C91"–"C95" covers C91.0 to C95.9. An end given as a category (three characters) covers all
// of its subcategories.
type ICDRange struct {
	text   string // as the model file writes it
	lo, hi string
}

// normICD normalises an ICD-10 code: "c92.0 " → "C920". ok is false when it is not of the form
// letter, two digits, then optionally a dot and up to four letters or digits.
func normICD(code string) (string, bool) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if len(code) < 3 || len(code) > 8 {
		return "", false
	}
	if code[0] < 'A' || code[0] > 'Z' || !isDigit(code[1]) || !isDigit(code[2]) {
		return "", false
	}
	rest := code[3:]
	if rest == "" {
		return code, true
	}
	if rest[0] != '.' || len(rest) < 2 || len(rest) > 5 {
		return "", false
	}
	for i := 1; i < len(rest); i++ {
		c := rest[i]
		if !isDigit(c) && (c < 'A' || c > 'Z') {
			return "", false
		}
	}
	return code[:3] + rest[1:], true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// ParseICDRange reads "C00-C97", "C91–C95" or a single code "N18".
func ParseICDRange(s string) (ICDRange, error) {
	t := strings.ReplaceAll(s, "–", "-")
	lo, hi, isRange := strings.Cut(t, "-")
	if !isRange {
		hi = lo
	}
	nlo, ok := normICD(lo)
	if !ok {
		return ICDRange{}, fmt.Errorf("%q: %q is not an ICD-10 code (letter, two digits, optional .subcode)", s, strings.TrimSpace(lo))
	}
	nhi, ok := normICD(hi)
	if !ok {
		return ICDRange{}, fmt.Errorf("%q: %q is not an ICD-10 code (letter, two digits, optional .subcode)", s, strings.TrimSpace(hi))
	}
	if nlo > nhi {
		return ICDRange{}, fmt.Errorf("%q: range runs backwards", s)
	}
	return ICDRange{text: strings.TrimSpace(s), lo: nlo, hi: nhi}, nil
}

// Contains reports whether the normalised code lies in the range.
func (r ICDRange) Contains(code string) bool {
	return code >= r.lo && (code <= r.hi || strings.HasPrefix(code, r.hi))
}

// ContainsRaw is Contains for a code as written ("c92.0"), without allocating; ok is false when
// the code is malformed.
func (r ICDRange) ContainsRaw(code string) (in, ok bool) {
	var b [8]byte
	n, ok := normICDInto(&b, code)
	if !ok {
		return false, false
	}
	c := b[:n]
	return string(c) >= r.lo && (string(c) <= r.hi || strings.HasPrefix(string(c), r.hi)), true
}

// normICDInto writes the normalised code into b; see normICD.
func normICDInto(b *[8]byte, code string) (int, bool) {
	code = strings.TrimSpace(code)
	if len(code) < 3 || len(code) > 8 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(code); i++ {
		c := code[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		switch {
		case i == 0:
			if c < 'A' || c > 'Z' {
				return 0, false
			}
		case i <= 2:
			if !isDigit(c) {
				return 0, false
			}
		case i == 3:
			if c != '.' || len(code) < 5 {
				return 0, false
			}
			continue
		default:
			if !isDigit(c) && (c < 'A' || c > 'Z') {
				return 0, false
			}
		}
		b[n] = c
		n++
	}
	return n, true
}
