/*
 * Added for safetynet (not in upstream Badger v4.9.6): see ../README.md.
 */

package table

import (
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/dgraph-io/ristretto/v2"
	"github.com/dgraph-io/ristretto/v2/z"
)

// TestBuilderMemory builds tables with each compression, as a memtable flush does (one table of
// more data than the table size), and reads them back. The builder's allocator must hold about
// the blocks' bytes, not also a worst-case compressed copy of each, and must go back to the
// pool with no more than it started with: before, it held 2.2 times the blocks' bytes and kept
// everything it had grown to for the next builder.
func TestBuilderMemory(t *testing.T) {
	for _, c := range []options.CompressionType{options.Snappy, options.ZSTD} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			cache, err := ristretto.NewCache(&ristretto.Config[[]byte, *Block]{NumCounters: 1000, MaxCost: 1 << 20, BufferItems: 64})
			if err != nil {
				t.Fatal(err)
			}
			defer cache.Close()
			pool := z.NewAllocatorPool(1)
			defer pool.Release()
			opts := Options{TableSize: 1 << 20, BlockSize: 4 << 10, BloomFalsePositive: 0.01,
				Compression: c, ZSTDCompressionLevel: 1, BlockCache: cache, AllocPool: pool}
			b := NewTableBuilder(opts)
			start := b.alloc.Allocated()
			value := func(i int) []byte {
				return fmt.Appendf(nil, "household %d: a value that compresses about twofold %x", i, uint64(i)*0x9e3779b97f4a7c15)
			}
			const n = 100_000 // about 9 MB: eight times the table size
			for i := range n {
				b.Add(y.KeyWithTs(fmt.Appendf(nil, "h/%08d", i), 1), y.ValueStruct{Value: value(i)}, 0)
			}
			data := b.Finish()
			blocks := len(b.blockList) * (opts.BlockSize + padding)
			if used := b.alloc.Size(); used > blocks*11/10 {
				t.Errorf("the builder's allocator holds %d bytes for %d blocks of at most %d", used, len(b.blockList), opts.BlockSize+padding)
			}
			grown := b.alloc
			b.Close()
			if got := grown.Allocated(); got > start {
				t.Errorf("the allocator went back to the pool with %d bytes; it started with %d", got, start)
			}

			tbl, err := OpenInMemoryTable(data, 1, &opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tbl.DecrRef() }()
			it := tbl.NewIterator(0)
			defer it.Close()
			i := 0
			for it.Rewind(); it.Valid(); it.Next() {
				if want := fmt.Sprintf("h/%08d", i); string(y.ParseKey(it.Key())) != want || string(it.Value().Value) != string(value(i)) {
					t.Fatalf("entry %d reads %s = %q", i, y.ParseKey(it.Key()), it.Value().Value)
				}
				i++
			}
			if i != n {
				t.Errorf("read back %d of %d entries", i, n)
			}
		})
	}
}
