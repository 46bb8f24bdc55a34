// Package cluster is what one safetynet instance knows of the others: which member of the
// monitor group owns which household-events partition (Directory, read from the group's
// membership), where a household is served (Router, for the API's forwarding), the standby
// copies of partitions other instances own (Standby), and the alert table every instance keeps
// of the whole alert topic (AlertTable).
//
// It deliberately decides nothing about ownership (Kafka's group protocol does), and neither
// scores, applies events nor writes household state itself: the standby hands changelog records
// to the monitor through the small Replica interface, and the router asks the monitor through
// Server whether a partition is served. It does not import the monitor.
package cluster
