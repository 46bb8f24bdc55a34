package household

import (
	"fmt"

	json "github.com/goccy/go-json"
)

// The casework part of the stored household (version 3): a length-prefixed JSON document, empty
// for a household that never had a case. Few households have cases and their timelines are
// short, so the compact binary form is not worth its code here. The documents are written and
// read with github.com/goccy/go-json (the library of the household event): every batch decodes
// and encodes the casework of the households it touches, and encoding/json spent about 5% of
// the service's CPU on it. Its output is what encoding/json reads, and it reads what
// encoding/json wrote.

func appendCasework(b []byte, cw *Casework) ([]byte, error) {
	if cw == nil {
		return appendString(b, ""), nil
	}
	j, err := json.Marshal(cw)
	if err != nil {
		return nil, fmt.Errorf("encode casework: %w", err)
	}
	return appendString(b, string(j)), nil
}

func (d *decoder) casework() *Casework {
	s := d.string()
	if s == "" || d.err != nil {
		return nil
	}
	var cw Casework
	if err := json.Unmarshal([]byte(s), &cw); err != nil {
		d.err = fmt.Errorf("casework: %w", err)
		return nil
	}
	return &cw
}

// appendJSON appends a length-prefixed JSON document of v, empty for nil (the form of the
// sections added after version 3: few households have them).
func appendJSON[T any](b []byte, what string, v *T) ([]byte, error) {
	if v == nil {
		return appendString(b, ""), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return appendString(b, string(j)), nil
}

// readJSON reads what appendJSON wrote; nil for the empty document.
func readJSON[T any](d *decoder, what string) *T {
	s := d.string()
	if s == "" || d.err != nil {
		return nil
	}
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		d.err = fmt.Errorf("%s: %w", what, err)
		return nil
	}
	return &v
}
