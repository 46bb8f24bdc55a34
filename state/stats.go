package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
)

// PartitionStats are the running counts of one partition, kept in the same transactions as the
// households they count so that the gauges survive restarts without a scan.
type PartitionStats struct {
	Levels map[string]int64 `json:"levels"` // households by level label
	Timers int64            `json:"timers"` // timers scheduled
}

// Clone returns a copy that can be changed without touching s.
func (s PartitionStats) Clone() PartitionStats {
	c := PartitionStats{Levels: maps.Clone(s.Levels), Timers: s.Timers}
	if c.Levels == nil {
		c.Levels = map[string]int64{}
	}
	return c
}

func statsKey(partition int) []byte {
	return binary.BigEndian.AppendUint32([]byte{kindMeta, '/', 's', '/'}, uint32(partition))
}

// SetStats writes the partition's counts inside the transaction.
func (t *Tx) SetStats(partition int, s PartitionStats) error {
	txn := t.txn
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return txn.Set(statsKey(partition), v)
}

// Stats reads the partition's counts; zero counts when none are stored.
func (s *Store) Stats(partition int) (PartitionStats, error) {
	out := PartitionStats{Levels: map[string]int64{}}
	v, err := s.get(statsKey(partition))
	if err == nil && v != nil {
		err = json.Unmarshal(v, &out)
	}
	if err != nil {
		return out, fmt.Errorf("read statistics of partition %d: %w", partition, err)
	}
	if out.Levels == nil {
		out.Levels = map[string]int64{}
	}
	return out, nil
}
