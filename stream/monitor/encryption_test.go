package monitor

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"safetynet/scorer"
	"safetynet/state"
	"safetynet/stream/feed"
	"safetynet/stream/household"
)

// TestEncryptedStoreHoldsNoPlaintext: households written through the pipeline into an encrypted
// store leave no household id, person key or masked ID number in any file of the directory, and
// the directory does not open with another key.
func TestEncryptedStoreHoldsNoPlaintext(t *testing.T) {
	addr := newBroker(t)
	dir := t.TempDir()
	key := bytes.Repeat([]byte{0x5a}, 32)
	t0 := date(2026, 1, 1)
	c := &clock{now: t0.Add(24 * time.Hour)}
	p := startPipelineWith(t, addr, state.Options{Dir: dir, EncryptionKey: key}, c, scorer.Default(), nil)
	var plain [][]byte
	for i := range 20 {
		person, hid := id(300+i, 1950+i), "H-SECRET-"+string(rune('A'+i))
		produce(t, addr, p.topics.Registry, joined(person, hid, date(1950+i, 3, 1), "F", "head", t0.AddDate(-30, 0, 0)))
		plain = append(plain, []byte(hid), []byte(keyOf(t, person)), []byte(feed.Mask(person)))
	}
	p.waitReady()
	waitHousehold(t, p.store, "H-SECRET-T", func(h *household.Household) bool { return len(h.Persons) == 1 })
	p.stop() // flushes and closes Badger: everything is on disk

	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, s := range plain {
			if bytes.Contains(b, s) {
				t.Errorf("%s holds %q in plain text", filepath.Base(path), s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no files in the state directory")
	}

	_, err = state.Open(state.Options{Dir: dir, EncryptionKey: bytes.Repeat([]byte{0x5b}, 32)})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "encryption key") {
		t.Errorf("opened with a wrong key: %v, want an error naming the encryption key", err)
	}
	s, err := state.Open(state.Options{Dir: dir, EncryptionKey: key})
	if err != nil {
		t.Fatalf("reopen with the right key: %v", err)
	}
	defer s.Close()
	if _, err := s.Household("H-SECRET-T"); err != nil {
		t.Errorf("household after reopen: %v", err)
	}
}
