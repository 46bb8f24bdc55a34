package monitor

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"safetynet/stream/kafkaio"
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

// Directory is every instance's view of the monitor group: which member (by advertised URL)
// owns which household-events partition. It polls DescribeGroups every second, and at once
// when asked for a partition it does not know an owner for.
type Directory struct {
	kafka   kafkaio.Kafka
	group   string
	topic   string
	self    string
	logger  *slog.Logger
	refresh chan struct{}

	mu         sync.Mutex
	partitions int            // of the household-events topic
	owners     map[int]string // partition → owner URL, only while the group is stable
	members    []string       // URLs of the members, sorted
}

// NewDirectory returns the directory of the monitor group groupID over topic; self is this
// instance's advertised URL.
func NewDirectory(k kafkaio.Kafka, groupID, topic, self string, logger *slog.Logger) *Directory {
	return &Directory{kafka: k, group: groupID, topic: topic, self: self, logger: logger.With("stage", "directory"),
		refresh: make(chan struct{}, 1), owners: map[int]string{}}
}

// Self is this instance's advertised URL.
func (d *Directory) Self() string { return d.self }

// Run keeps the directory current until ctx ends.
func (d *Directory) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		d.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.refresh:
		}
	}
}

func (d *Directory) poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	client := d.kafka.Client()
	if d.Partitions() == 0 {
		meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{d.topic}})
		if err == nil && len(meta.Topics) == 1 && meta.Topics[0].Error == nil {
			d.mu.Lock()
			d.partitions = len(meta.Topics[0].Partitions)
			d.mu.Unlock()
		}
	}
	resp, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{d.group}})
	owners, members := map[int]string{}, []string(nil)
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].Error != nil {
		if ctx.Err() == nil {
			d.logger.Debug("describe the monitor group", "err", err)
		}
	} else if g := resp.Groups[0]; g.GroupState == "Stable" {
		for _, m := range g.Members {
			url := string(m.MemberMetadata.UserData)
			if url == "" {
				continue
			}
			members = append(members, url)
			for _, t := range m.MemberAssignments.Topics {
				if t.Topic != d.topic {
					continue
				}
				for _, p := range t.Partitions {
					owners[p] = url
				}
			}
		}
	}
	sort.Strings(members)
	d.mu.Lock()
	d.owners, d.members = owners, members
	d.mu.Unlock()
}

// Partitions is the number of household-events partitions (0 until known).
func (d *Directory) Partitions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.partitions
}

// Owner is the URL of the member that owns partition p, "" while none is known (rebalancing).
func (d *Directory) Owner(p int) string {
	d.mu.Lock()
	u := d.owners[p]
	d.mu.Unlock()
	if u == "" {
		select {
		case d.refresh <- struct{}{}:
		default:
		}
	}
	return u
}

// view is the owners of the partitions and the members, nil while the group rebalances.
func (d *Directory) view() (map[int]string, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.owners, d.members
}

// Members lists the URLs of the group's members (sorted); nil while the group rebalances.
func (d *Directory) Members() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.members...)
}

// PartitionOf is the household-events partition of a household: the producers' hash balancer
// (kafkaio.HouseholdBalancer) over n partitions.
func PartitionOf(householdID string, n int) int {
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	return kafkaio.HouseholdBalancer().Balance(kafka.Message{Key: []byte(householdID)}, parts...)
}

// Router answers for the API where a household is served.
type Router struct {
	Monitor   *Monitor
	Directory *Directory
}

// Route says where household id is served: local when this instance serves its partition now;
// otherwise the owner's URL, or "" when the partition has no ready owner (rebalancing,
// restoring, or this instance owns it but is still catching up).
func (r Router) Route(id string) (local bool, owner string) {
	n := r.Directory.Partitions()
	if n == 0 {
		return false, ""
	}
	p := PartitionOf(id, n)
	if r.Monitor.Serving(p) {
		return true, ""
	}
	o := r.Directory.Owner(p)
	if o == r.Directory.Self() {
		return false, ""
	}
	return false, o
}

// Serves reports whether this instance serves the partition of household id now.
func (r Router) Serves(id string) bool {
	n := r.Directory.Partitions()
	return n > 0 && r.Monitor.Serving(PartitionOf(id, n))
}

// Complete reports whether every partition has an owner in a stable group, and the owners' URLs.
func (r Router) Complete() ([]string, bool) {
	n := r.Directory.Partitions()
	if n == 0 {
		return nil, false
	}
	seen := map[string]bool{}
	var urls []string
	for p := range n {
		o := r.Directory.Owner(p)
		if o == "" {
			return nil, false
		}
		if !seen[o] {
			seen[o] = true
			urls = append(urls, o)
		}
	}
	sort.Strings(urls)
	return urls, true
}

// Owners is Complete with the number of partitions (api.Router).
func (r Router) Owners() ([]string, int, bool) {
	urls, ok := r.Complete()
	return urls, r.Directory.Partitions(), ok
}

// Self is this instance's advertised URL.
func (r Router) Self() string { return r.Directory.Self() }

// Served lists the partitions this instance serves now (Monitor.Owned).
func (r Router) Served() []int { return r.Monitor.Owned() }

// PartitionOf is the household-events partition of household id (-1 while the number of
// partitions is unknown).
func (r Router) PartitionOf(id string) int {
	n := r.Directory.Partitions()
	if n == 0 {
		return -1
	}
	return PartitionOf(id, n)
}
