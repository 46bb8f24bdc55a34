package state

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// KindUsage is what one kind of record takes in the store: how many live keys, and their keys'
// and values' bytes as written (before Badger compresses its tables).
type KindUsage struct {
	Kind  string // a name, such as "alert index" (kindNames)
	Keys  int64
	Bytes int64
}

// kindNames names each key kind for people reading a usage report.
var kindNames = map[byte]string{
	kindMeta:      "metadata",
	kindOffset:    "offsets",
	kindHousehold: "households",
	kindTimer:     "timers",
	kindPerson:    "person table",
	kindSeen:      "resend marks",
	kindSeenBlock: "resend marks",
	kindParked:    "parked events",
	kindAlert:     "alert index",
	kindCase:      "case index",
}

// Usage walks the live version of every key (without reading the values out of the value log)
// and returns what each kind of record takes, largest first. It answers "what is this
// directory made of" for operators and the benchmark: the allocated size on disk also holds
// Badger's overhead and, before compaction, stale versions.
func (s *Store) Usage() ([]KindUsage, error) {
	by := map[string]*KindUsage{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			name, ok := kindNames[k[0]]
			if !ok {
				name = fmt.Sprintf("other (%q)", k[0])
			}
			u := by[name]
			if u == nil {
				u = &KindUsage{Kind: name}
				by[name] = u
			}
			u.Keys++
			u.Bytes += int64(len(k)) + item.ValueSize()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read what the store holds: %w", err)
	}
	out := make([]KindUsage, 0, len(by))
	for _, u := range by {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b KindUsage) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Kind, b.Kind))
	})
	return out, nil
}
