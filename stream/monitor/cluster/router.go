package cluster

import "sort"

// Server is what the router needs of the local monitor: whether this instance serves a
// partition now, and which it serves (monitor.Monitor's Serving and Owned).
type Server interface {
	Serving(p int) bool
	Owned() []int
}

// Router answers for the API where a household is served.
type Router struct {
	Monitor   Server
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
