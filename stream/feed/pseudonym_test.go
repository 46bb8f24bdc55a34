package feed

import (
	"bytes"
	"regexp"
	"testing"
)

func TestPseudonymizer(t *testing.T) {
	if _, err := NewPseudonymizer([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
	p1, err := NewPseudonymizer([]byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := NewPseudonymizer([]byte("0123456789abcdeF"))
	id, other := testID(1), testID(2)
	k := p1.Key(id)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(k) {
		t.Errorf("key %q is not 32 hex digits", k)
	}
	if p1.Key(id) != k {
		t.Error("key not deterministic")
	}
	if p1.Key(other) == k || p2.Key(id) == k {
		t.Error("key does not depend on both the ID number and the secret")
	}
	if got, want := Mask("420106195209270001"), "420106***********1"; got != want {
		t.Errorf("Mask: got %q, want %q", got, want)
	}
	if got := Mask("1234"); got != "****" {
		t.Errorf("Mask of a short string: got %q", got)
	}
	sealed := p1.Seal([]byte(id))
	if bytes.Contains(sealed, []byte(id)) {
		t.Error("sealed bytes contain the plain text")
	}
	if got, err := p1.Open(sealed); err != nil || string(got) != id {
		t.Errorf("open: got %q, %v", got, err)
	}
	if _, err := p2.Open(sealed); err == nil {
		t.Error("opened with another key")
	}
}
