package feed

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Refusals that keep what a feed record can smuggle past intake out of every topic, key and
// store: text that displays other than it reads, resident ID numbers in identifier fields, and
// JSON that two readers could read two ways.

// checkUTF8 refuses a record that is not valid UTF-8.
func checkUTF8(b []byte) *DecodeError {
	if !utf8.Valid(b) {
		return refuse(ReasonMalformedJSON, "", "record is not valid UTF-8")
	}
	return nil
}

// refuseDuplicate refuses a record that has key twice at its top level (encoding/json keeps the
// last, other readers the first).
func refuseDuplicate(key string) *DecodeError {
	return refuse(ReasonMalformedJSON, clip(key), "key appears twice")
}

// duplicateKey reports the first member name of the top-level object b that appears twice. b is
// valid JSON (the caller checked); names are compared as decoded.
func duplicateKey(b []byte) (string, bool) {
	// Names are kept as slices of b (an escaped name decoded into its own copy), so that a
	// record without a duplicate costs no allocation.
	var seen [16][]byte
	keys := seen[:0]
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			start := i
			escaped := false
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					escaped = true
					i++
				}
			}
			if depth != 1 || !isKey(b, i+1) {
				continue
			}
			name := b[start+1 : i]
			if escaped {
				var decoded string
				if json.Unmarshal(b[start:i+1], &decoded) != nil {
					continue
				}
				name = []byte(decoded)
			}
			for _, k := range keys {
				if bytes.Equal(k, name) {
					return string(name), true
				}
			}
			keys = append(keys, name)
		}
	}
	return "", false
}

// isKey reports whether the string that ended before b[i] is followed by a colon.
func isKey(b []byte, i int) bool {
	for ; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

// checkText refuses characters that make an identifier display other than it reads: C0 and C1
// controls, bidirectional controls and zero-width characters.
func checkText(field, s string) *DecodeError {
	if !utf8.ValidString(s) {
		return refuse(ReasonBadValue, field, "not valid UTF-8")
	}
	for _, r := range s {
		switch {
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			return refuse(ReasonBadValue, field, "contains control character U+%04X", r)
		case r == 0x061c || r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
			return refuse(ReasonBadValue, field, "contains bidirectional control U+%04X", r)
		case r >= 0x200b && r <= 0x200d || r == 0x2060 || r == 0xfeff:
			return refuse(ReasonBadValue, field, "contains zero-width character U+%04X", r)
		}
	}
	return nil
}

// hasIDRun reports whether s holds something shaped like a resident ID number: a run of exactly
// 15 or 18 digits, or of 17 digits and an X.
func hasIDRun(s string) bool {
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		n := j - i
		if n == 15 || n == 18 || n == 17 && j < len(s) && (s[j] == 'X' || s[j] == 'x') {
			return true
		}
		i = j
	}
	return false
}

// checkAreaCode accepts "" (not given) or a 12-digit statistical division code (统计用区划代码):
// province 2, city 2, county 2, township 3, village or community 3 digits.
func checkAreaCode(s string) *DecodeError {
	if s == "" {
		return nil
	}
	if len(s) != 12 {
		return refuse(ReasonBadValue, "area_code", "%q is not 12 digits (province 2, city 2, county 2, township 3, village 3)", clip(s))
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return refuse(ReasonBadValue, "area_code", "%q: character %d is not a digit", clip(s), i+1)
		}
	}
	if s[:2] < "11" || s[:2] > "82" {
		return refuse(ReasonBadValue, "area_code", "%q: no province %s (want 11 to 82)", s, s[:2])
	}
	return nil
}
