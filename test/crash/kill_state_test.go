package crash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"safetynet/state"
)

// TestStartRefusesIncompatibleState starts `safetynet run` on state directories it must not
// touch: one written by a future format (marker file or version key) and corrupted ones. Each
// start must fail with a clear error and leave every file byte for byte as it was.
func TestStartRefusesIncompatibleState(t *testing.T) {
	bin := buildBinary(t)
	tests := []struct {
		name    string
		spoil   func(t *testing.T, dir string)
		wantErr string
	}{
		{"future format marker", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "SAFETYNET_FORMAT"), []byte(strconv.Itoa(state.FormatVersion+1)+"\n"))
		}, "incompatible format"},
		{"future format version key", func(t *testing.T, dir string) {
			// Written with Badger itself, as a newer safetynet would: the state API writes
			// only its own version.
			db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(txn *badger.Txn) error {
				return txn.Set([]byte("m/v"), binary.BigEndian.AppendUint64(nil, state.FormatVersion+1))
			}); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}, "incompatible format"},
		{"marker not a version", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "SAFETYNET_FORMAT"), []byte("garbage"))
		}, "incompatible format"},
		{"corrupted MANIFEST", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "MANIFEST")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for i := 8; i < len(b); i++ {
				b[i] ^= 0x5a
			}
			write(t, p, b)
		}, "open state dir"},
		{"KEYREGISTRY overwritten", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "KEYREGISTRY"), bytes.Repeat([]byte{0xff}, 64))
		}, "open state dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := state.Open(state.Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Update(func(tx *state.Tx) error {
				return tx.PutHousehold("H1", []byte(`{"id":"H1"}`))
			}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, dir)
			before := hashDir(t, dir)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "run")
			cmd.Env = childEnv("SAFETYNET_STATE_DIR="+dir, "SAFETYNET_KAFKA_BROKERS=127.0.0.1:1",
				"SAFETYNET_PSEUDONYM_KEY=5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d", "SAFETYNET_HTTP_ADDR=127.0.0.1:0")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("safetynet run started on a spoilt state directory:\n%s", out)
			}
			if !strings.Contains(string(out), tc.wantErr) {
				t.Errorf("error does not say %q:\n%s", tc.wantErr, out)
			}
			if after := hashDir(t, dir); after != before {
				t.Errorf("the state directory changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func write(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// hashDir is one line per file: name, size and SHA-256.
func hashDir(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		sb.WriteString(rel + " " + hex.EncodeToString(h[:8]) + "; ")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}
