package monitor

import (
	"sort"

	"github.com/segmentio/kafka-go"
)

// Which instance answers for which household. The monitor group's membership is the one source:
// every member joins with its advertised URL as the member UserData (urlBalancer), and any
// instance reads every member's URL and assigned partitions back with DescribeGroups
// (Directory). A household is served by the instance whose worker owns its partition and has
// caught up (Monitor.Serving); every other instance forwards to that one, or answers 503 while
// the group is rebalancing or the owner is still catching up. Nothing here decides ownership:
// Kafka's group protocol does.

// urlBalancer is kafka-go's range assignment with the member's advertised URL as its UserData.
// The protocol name stays "range", so members of older versions (without a URL) still join.
type urlBalancer struct {
	kafka.RangeGroupBalancer
	url string
}

func (b urlBalancer) UserData() ([]byte, error) { return []byte(b.url), nil }

// Serving reports whether this instance answers for partition p: its worker owns it in the
// current generation, is running, has caught up and can write. A partition whose worker exited
// (revoked, rebalancing) is not served from that moment.
func (mo *Monitor) Serving(p int) bool {
	mo.mu.Lock()
	defer mo.mu.Unlock()
	s := mo.partitions[p]
	return s != nil && s.running && s.caughtUp && s.failing == ""
}

// Owned lists the partitions this instance serves now (Serving), sorted.
func (mo *Monitor) Owned() []int {
	mo.mu.Lock()
	defer mo.mu.Unlock()
	var out []int
	for p, s := range mo.partitions {
		if s.running && s.caughtUp && s.failing == "" {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out
}

// workerStarted and workerStopped bracket a partition worker's life: only a running worker's
// partition is served.
func (mo *Monitor) workerStarted(p int) {
	mo.setStatus(p, func(s *partitionStatus) { s.running = true })
}

func (mo *Monitor) workerStopped(p int) {
	mo.setStatus(p, func(s *partitionStatus) { s.running, s.caughtUp = false, false })
}
