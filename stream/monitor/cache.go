package monitor

// householdCache keeps the stored form of a partition's recently used households, so that a
// household seen again is not read back from Badger. Only the partition's worker writes its
// households, and it puts a value here only after the store committed it, so the cache never
// holds what the store does not. It is bounded by count and by bytes (values and keys): past
// either bound it forgets about a tenth of its entries, chosen by map iteration order.
type householdCache struct {
	m     map[string][]byte
	bytes int
}

const (
	maxCachedHouseholds = 65536
	// maxCachedBytes holds the 32,500 households per partition of the benchmark's working set
	// (130,000 over 4 partitions, ~370 bytes each) and keeps a partition's cache near 16 MiB
	// when a million households pass through it.
	maxCachedBytes = 16 << 20
)

func (c *householdCache) get(id string) ([]byte, bool) {
	v, ok := c.m[id]
	return v, ok
}

func (c *householdCache) put(id string, v []byte) {
	if c.m == nil {
		c.m = make(map[string][]byte)
	}
	if old, ok := c.m[id]; ok {
		c.bytes -= len(id) + len(old)
	} else if len(c.m) >= maxCachedHouseholds || c.bytes+len(id)+len(v) > maxCachedBytes {
		n := max(len(c.m)/10, 1)
		for k, old := range c.m {
			delete(c.m, k)
			c.bytes -= len(k) + len(old)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[id] = v
	c.bytes += len(id) + len(v)
}
