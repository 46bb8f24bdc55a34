package feed

import (
	"encoding/json"
	"unsafe"
)

// splitMembers fills obj with the members of the JSON object b: b starts with '{', and nothing
// but whitespace follows the object's closing brace. Each value is the slice of b that holds it
// (as json.RawMessage would hold it) and each name is a string of b's bytes, or its own decoded
// copy when it has escapes; b must not be written to while anything holds either. dup is the
// first name, in the record's order, that the object gives twice (compared as decoded).
//
// It reads strictly the JSON of RFC 8259, in one pass and with no allocation per member. ok is
// false for anything it does not read (malformed JSON, nesting deeper than maxSplitDepth): the
// caller then asks the JSON library, whose verdict and message stand, so the scanner only has
// to be right about what it accepts (FuzzSplitObject holds it to encoding/json).
func splitMembers(b []byte, obj map[string]json.RawMessage) (dup string, ok bool) {
	if len(b) == 0 || b[0] != '{' {
		return "", false
	}
	end, ok := scanObject(b, 0, 1, func(name []byte, escaped bool, value []byte) bool {
		key := unsafe.String(unsafe.SliceData(name), len(name))
		if escaped {
			var ok bool
			if key, ok = unescape(name); !ok {
				return false
			}
		}
		if _, seen := obj[key]; seen && dup == "" {
			dup = key
		}
		obj[key] = value
		return true
	})
	if !ok || skipSpace(b, end) != len(b) {
		return "", false
	}
	return dup, true
}

// unescape decodes a member name with escapes into its own string (kept apart from
// splitMembers so that the name it decodes into, whose address the library takes, is not
// allocated for every member).
func unescape(name []byte) (string, bool) {
	var s string
	if json.Unmarshal(name, &s) != nil {
		return "", false
	}
	return s, true
}

// maxSplitDepth is the deepest nesting splitMembers reads; deeper records go to the library
// (encoding/json refuses nesting past 10,000).
const maxSplitDepth = 64

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanValue returns the end of the JSON value that starts at b[i] (no whitespace before it).
func scanValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok := scanString(b, i)
		return end, ok
	case c == '{' || c == '[':
		if depth >= maxSplitDepth {
			return i, false
		}
		return scanContainer(b, i, depth+1)
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return i, false
}

// scanContainer returns the end of the object or array that starts at b[i].
func scanContainer(b []byte, i, depth int) (int, bool) {
	if b[i] == '{' {
		return scanObject(b, i, depth, nil)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = scanValue(b, i, depth); !ok {
			return i, false
		}
		var closed bool
		if i, closed, ok = nextElement(b, i, ']'); !ok || closed {
			return i, ok
		}
	}
}

// scanObject returns the end of the object that starts at b[i]. member, when not nil, is called
// with each member's name (with its quotes when escaped is true, else without them) and value,
// as slices of b; it returns false to fail the scan.
func scanObject(b []byte, i, depth int, member func(name []byte, escaped bool, value []byte) bool) (int, bool) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		end, escaped, ok := scanString(b, i)
		if !ok {
			return i, false
		}
		name := b[i+1 : end-1]
		if escaped {
			name = b[i:end]
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return i, false
		}
		start := skipSpace(b, i+1)
		if i, ok = scanValue(b, start, depth); !ok {
			return i, false
		}
		if member != nil && !member(name, escaped, b[start:i:i]) {
			return i, false
		}
		var closed bool
		if i, closed, ok = nextElement(b, i, '}'); !ok || closed {
			return i, ok
		}
	}
}

// nextElement reads what follows a value in an object or array: a comma (it returns the start
// of the next element) or the closing byte (it returns the end of the container, and closed).
func nextElement(b []byte, i int, closing byte) (next int, closed, ok bool) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return i, false, false
	}
	switch b[i] {
	case ',':
		return skipSpace(b, i+1), false, true
	case closing:
		return i + 1, true, true
	}
	return i, false, false
}

// scanString returns the end of the string that starts at b[i] (after its closing quote) and
// whether it holds an escape. A control character or an escape JSON does not define fails it.
func scanString(b []byte, i int) (end int, escaped, ok bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, true
		case c < 0x20:
			return i, false, false
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return i, false, false
			}
			i++
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return i, false, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return i, false, false
					}
				}
				i += 4
			default:
				return i, false, false
			}
		}
	}
	return i, false, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber returns the end of the number that starts at b[i]: -?(0|[1-9][0-9]*)(.[0-9]+)?
// ([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}
