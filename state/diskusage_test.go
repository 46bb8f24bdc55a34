package state

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestVlogDiskUsage: a fresh store's value log is a sparse file of Badger's full file size, so
// the allocated bytes are far below the apparent size; writing values above the value threshold
// into it raises the allocated bytes by at least what was written, and the apparent size is the
// files' size as the filesystem reports it.
func TestVlogDiskUsage(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	alloc0, apparent0, err := s.VlogDiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	var files, size int64
	vlogs, _ := filepath.Glob(filepath.Join(dir, "*.vlog"))
	for _, f := range vlogs {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		files++
		size += fi.Size()
	}
	if files == 0 {
		t.Fatalf("no *.vlog file in a fresh store's directory %s", dir)
	}
	if apparent0 != size {
		t.Errorf("apparent = %d, want %d (the *.vlog files' sizes)", apparent0, size)
	}
	if alloc0 >= apparent0 {
		t.Errorf("fresh store: allocated %d, want below the apparent %d (a sparse value log)", alloc0, apparent0)
	}

	// 8 MiB of incompressible 4 KiB values: above the value threshold, so into the log.
	const n, each = 2048, 4 << 10
	b := s.NewBatch()
	for i := range n {
		v := make([]byte, each)
		_, _ = rand.Read(v)
		if err := b.PutHousehold(fmt.Sprintf("H-%05d", i), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	alloc1, apparent1, err := s.VlogDiskUsage()
	if err != nil {
		t.Fatal(err)
	}
	if grown := alloc1 - alloc0; grown < n*each {
		t.Errorf("after writing %d bytes of values: allocated grew by %d (%d → %d), want at least %d", n*each, grown, alloc0, alloc1, n*each)
	}
	if alloc1 >= apparent1 {
		t.Errorf("after 8 MiB of values: allocated %d, want below the apparent %d", alloc1, apparent1)
	}
	t.Logf("value log: fresh %d allocated of %d apparent; after %d bytes of values %d allocated of %d", alloc0, apparent0, n*each, alloc1, apparent1)
}
