package feed

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestPseudonymizer(t *testing.T) {
	for _, bad := range []string{"short", "0123456789abcdef0123456789abcdef", strings.Repeat("0123456789abcdef", 4),
		strings.Repeat("deadbeef", 8), strings.Repeat("0", 64), "CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE"} {
		if _, err := NewPseudonymizer([]byte(bad)); err == nil {
			t.Errorf("key %q was accepted", bad)
		}
	}
	p1, err := NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := NewPseudonymizer([]byte("a83e0c5d7f1b9264c0e8a4f2d6b13579e2c4a6f8b0d1e3f5a7c9b2d4f6e8a0c1"))
	if err != nil {
		t.Fatal(err)
	}
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

// memPrints is a FingerprintStore in memory; the state package's test uses the real store.
type memPrints struct{ fp []byte }

func (m *memPrints) KeyFingerprint() ([]byte, bool, error) { return m.fp, m.fp != nil, nil }
func (m *memPrints) SetKeyFingerprint(b []byte) error      { m.fp = b; return nil }

func TestCheckKeyFingerprint(t *testing.T) {
	a, _ := NewPseudonymizer([]byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"))
	b, _ := NewPseudonymizer([]byte("a83e0c5d7f1b9264c0e8a4f2d6b13579e2c4a6f8b0d1e3f5a7c9b2d4f6e8a0c1"))
	s := &memPrints{}
	if err := CheckKeyFingerprint(s, a); err != nil || s.fp == nil {
		t.Fatalf("first start: %v, stored %x", err, s.fp)
	}
	if bytes.Contains(s.fp, a.key) {
		t.Fatal("the fingerprint holds the key")
	}
	if err := CheckKeyFingerprint(s, a); err != nil {
		t.Errorf("same key refused: %v", err)
	}
	err := CheckKeyFingerprint(s, b)
	if !errors.Is(err, ErrKeyChanged) || !strings.Contains(err.Error(), "SAFETYNET_PSEUDONYM_KEY") {
		t.Errorf("changed key: got %v, want ErrKeyChanged saying what to do", err)
	}
}

// TestPersonKeyUnchanged: Key (pooled HMACs, hex on the stack) gives the person keys existing
// state was built with: the first 32 hex digits of HMAC-SHA256(key, "person:" + ID), from
// several goroutines at once.
func TestPersonKeyUnchanged(t *testing.T) {
	secret := []byte("5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d")
	p, err := NewPseudonymizer(secret)
	if err != nil {
		t.Fatal(err)
	}
	want := func(id string) string {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte("person:" + id))
		return hex.EncodeToString(mac.Sum(nil))[:32]
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := range 200 {
				id := testID(g*1000 + n)
				if got := p.Key(id); got != want(id) {
					t.Errorf("Key(%s): got %s, want %s", Mask(id), got, want(id))
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := Mask("11010519491231002X"), "110105***********X"; got != want {
		t.Errorf("Mask: got %q, want %q", got, want)
	}
}
