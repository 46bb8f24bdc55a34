package state

import (
	"encoding/binary"
	"fmt"
)

// OffsetKey is the key of the next offset to read from topic/partition.
func OffsetKey(topic string, partition int) []byte {
	k := make([]byte, 0, 2+len(topic)+5)
	k = append(k, kindOffset, '/')
	k = append(k, topic...)
	k = append(k, '/')
	return binary.BigEndian.AppendUint32(k, uint32(partition))
}

// SetOffset records, inside the transaction, that everything before next on topic/partition is applied.
// Written in the same transaction as the state it produced.
func (t *Tx) SetOffset(topic string, partition int, next int64) error {
	txn := t.txn
	return txn.Set(OffsetKey(topic, partition), binary.BigEndian.AppendUint64(nil, uint64(next)))
}

// Offset returns the next offset to read from topic/partition, and false when none is stored.
func (s *Store) Offset(topic string, partition int) (int64, bool, error) {
	v, err := s.get(OffsetKey(topic, partition))
	switch {
	case err != nil:
		return 0, false, fmt.Errorf("read offset %s/%d: %w", topic, partition, err)
	case v == nil:
		return 0, false, nil
	case len(v) != 8:
		return 0, false, fmt.Errorf("read offset %s/%d: value of %d bytes", topic, partition, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}
