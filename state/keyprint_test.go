package state

import (
	"bytes"
	"testing"
)

// The fingerprint survives a reopen of the directory.
func TestKeyFingerprintPersists(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.KeyFingerprint(); ok || err != nil {
		t.Fatalf("new store has a fingerprint (%v, %v)", ok, err)
	}
	if err := s.SetKeyFingerprint([]byte("fp-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fp, ok, err := s.KeyFingerprint(); !ok || err != nil || !bytes.Equal(fp, []byte("fp-1")) {
		t.Errorf("after reopen: %q, %v, %v", fp, ok, err)
	}
}
