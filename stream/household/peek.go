package household

import "encoding/binary"

// PartitionOf reads the partition of a stored household without decoding its facts, for walks
// over every stored household that want one partition's. ok is false when v is not the binary
// form (JSON of format 1 is decoded in full by the caller).
func PartitionOf(v []byte) (partition int, ok bool) {
	if len(v) == 0 || v[0] < householdBinaryV1 || v[0] > householdBinaryLatest { // every binary version starts id, partition
		return 0, false
	}
	b := v[1:]
	n, k := binary.Uvarint(b) // the id's length
	if k <= 0 || uint64(len(b)-k) < n {
		return 0, false
	}
	b = b[k+int(n):]
	p, k := binary.Varint(b)
	if k <= 0 {
		return 0, false
	}
	return int(p), true
}
