/*
 * Added for safetynet (not in upstream Badger v4.9.6): see ../README.md.
 */

package table

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/dgraph-io/ristretto/v2/z"
)

// TestCreateTableWritesTheTable: CreateTable writes the file with write(2), not through a
// mapping, and the file holds exactly the bytes the builder's Finish gives (its blocks, index
// and checksum in the same layout); the table opened on it reads every entry back; and a file
// that exists already is refused, not overwritten.
func TestCreateTableWritesTheTable(t *testing.T) {
	cache, err := ristretto.NewCache(&ristretto.Config[[]byte, *Block]{NumCounters: 1000, MaxCost: 1 << 20, BufferItems: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	pool := z.NewAllocatorPool(1)
	defer pool.Release()
	opts := Options{TableSize: 1 << 20, BlockSize: 4 << 10, BloomFalsePositive: 0.01,
		Compression: options.Snappy, BlockCache: cache, AllocPool: pool, ChkMode: options.OnTableAndBlockRead}
	value := func(i int) []byte { return fmt.Appendf(nil, "household %d %x", i, uint64(i)*0x9e3779b97f4a7c15) }
	const n = 120_000 // more blocks than one writev takes (1,024 buffers)
	build := func() *Builder {
		b := NewTableBuilder(opts)
		for i := range n {
			b.Add(y.KeyWithTs(fmt.Appendf(nil, "h/%08d", i), 1), y.ValueStruct{Value: value(i)}, 0)
		}
		return b
	}
	wantBuilder := build()
	want := wantBuilder.Finish()
	if blocks := len(wantBuilder.blockList); blocks <= 1024 {
		t.Fatalf("the table has %d blocks: too few to take more than one writev", blocks)
	}
	wantBuilder.Close()

	fname := NewFilename(7, t.TempDir())
	tbl, err := CreateTable(fname, build())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tbl.DecrRef() }()
	got, err := os.ReadFile(fname)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the table file holds %d bytes, not the %d the builder built", len(got), len(want))
	}
	it := tbl.NewIterator(0)
	defer it.Close()
	i := 0
	for it.Rewind(); it.Valid(); it.Next() {
		if want := fmt.Sprintf("h/%08d", i); string(y.ParseKey(it.Key())) != want || !bytes.Equal(it.Value().Value, value(i)) {
			t.Fatalf("entry %d reads %s = %q", i, y.ParseKey(it.Key()), it.Value().Value)
		}
		i++
	}
	if i != n {
		t.Errorf("read back %d of %d entries", i, n)
	}

	again := build()
	defer again.Close()
	if _, err := CreateTable(fname, again); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("creating the table again: %v, want it refused as already existing", err)
	}
	if after, _ := os.ReadFile(fname); !bytes.Equal(after, want) {
		t.Error("the refused second table changed the file")
	}
}

// writeBuffers writes buffers in order and passes over empty ones, also when they are all that
// is left (a writev of only those writes nothing).
func TestWriteBuffersPassesOverEmptyOnes(t *testing.T) {
	for _, bufs := range [][][]byte{
		{[]byte("ab"), nil, []byte("cd"), {}, nil},
		{nil, {}},
		{},
	} {
		f, err := os.CreateTemp(t.TempDir(), "w")
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		for _, b := range bufs {
			want = append(want, b...)
		}
		if err := writeBuffers(f, bufs); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
		if got, _ := os.ReadFile(f.Name()); !bytes.Equal(got, want) {
			t.Errorf("wrote %q, want %q", got, want)
		}
	}
}
