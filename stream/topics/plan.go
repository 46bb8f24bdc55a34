// Package topics names safetynet's topics (Topics, with their defaults) and holds its topic plan: every Kafka topic the service reads or writes, with
// its partition count, cleanup policy, retention and replication, in one table (specs). Create
// makes the missing topics of a plan on a cluster; Check compares a cluster with the plan and
// names each difference.
//
// It does not change existing topics: a partition count cannot be lowered, and raising the
// count of the household-events topic or the changelog moves households between partitions
// (docs/operations.md, "Scaling"). Config differences are reported for the operator to fix.
package topics

import (
	"fmt"
	"strconv"
	"time"
)

// Partitioning says how many partitions a topic of the plan has.
type Partitioning int

const (
	// Any count will do; Create uses Options.Partitions.
	Any Partitioning = iota
	// CoPartitioned topics are read partition by partition next to each other (same household,
	// same partition number): they must all have the same count, Options.Partitions.
	CoPartitioned
)

// Retention of a topic of the plan.
type Retention int

const (
	// RetainBrokerDefault leaves retention.ms to the broker.
	RetainBrokerDefault Retention = iota
	// RetainForever sets retention.ms=-1: nothing is deleted by age.
	RetainForever
	// RetainFeed keeps records Options.FeedRetention (long enough to replay after an outage).
	RetainFeed
	// RetainDeadLetters keeps records 30 days, long enough to investigate and resend.
	RetainDeadLetters
	// RetainAlerts keeps records Options.AlertRetention.
	RetainAlerts
	// RetainAudit keeps records Options.AuditRetention (forever when 0).
	RetainAudit
	// Compacted sets cleanup.policy=compact: the latest record per key is kept, nothing by age.
	Compacted
)

// DeadLetterRetention is how long the dead-letter topic keeps records.
const DeadLetterRetention = 30 * 24 * time.Hour

// spec is one row of the plan.
type spec struct {
	Role        string // stable name of the topic's part in safetynet: "registry", "changelog", …
	Default     string // the topic name when the operator names none
	Partitions  Partitioning
	Retention   Retention
	Description string
}

// specs is the topic plan: one row per topic. Topics that later issues bring (audit, casework,
// applications, assets, verifications) are planned here already, so that a cluster is created
// once. Adding a topic is adding a row.
var specs = []spec{
	{"registry", "safetynet.feed.registry", Any, RetainForever, "registry feed; every instance rebuilds the person table from all of it"},
	{"hospital", "safetynet.feed.hospital", Any, RetainFeed, "hospital feed"},
	{"pension", "safetynet.feed.pension", Any, RetainFeed, "pension feed"},
	{"employment", "safetynet.feed.employment", Any, RetainFeed, "employment feed"},
	{"disability", "safetynet.feed.disability", Any, RetainFeed, "disability feed"},
	{"assets", "safetynet.feed.assets", Any, RetainFeed, "assets feed"},
	{"applications", "safetynet.feed.applications", Any, RetainFeed, "applications feed (declarations)"},
	{"casework", "safetynet.feed.casework", CoPartitioned, RetainFeed, "casework actions, keyed by household, applied with the household's events"},
	{"household-events", "safetynet.household-events", CoPartitioned, RetainFeed, "internal, keyed by household"},
	{"changelog", "safetynet.changelog", CoPartitioned, Compacted, "household state changelog: the state's backup"},
	{"dlq", "safetynet.dlq", Any, RetainDeadLetters, "dead letters with the original bytes"},
	{"alerts", "safetynet.alerts", Any, RetainAlerts, "alerts to case-management systems"},
	{"verifications", "safetynet.verifications", Any, RetainAlerts, "declaration check results"},
	{"audit", "safetynet.audit", Any, RetainAudit, "audit trail: who saw which household, who recorded what"},
	{"parked", "safetynet.parked", Any, Compacted, "events parked for persons the registry does not know yet, with their sealed originals; a tombstone when released or dead-lettered"},
}

// Roles lists the roles of the plan in its order.
func Roles() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Role
	}
	return out
}

// Options are the choices of one cluster.
type Options struct {
	// Names maps a role to its topic name where it is not the default.
	Names map[string]string
	// Partitions of every topic Create makes, and the count the co-partitioned topics must have.
	Partitions int
	// ReplicationFactor of every topic (3 in production).
	ReplicationFactor int
	// MinInSyncReplicas of every topic (2 in production; at most ReplicationFactor).
	MinInSyncReplicas int
	// FeedRetention of the feeds and the household-events topic.
	FeedRetention time.Duration
	// AlertRetention of the alert and verification topics.
	AlertRetention time.Duration
	// AuditRetention of the audit trail; 0 keeps it forever.
	AuditRetention time.Duration
}

// DefaultOptions are the production defaults: 12 partitions, replication 3, 2 in sync, feeds
// kept 7 days, alerts 30 days, the audit trail forever.
func DefaultOptions() Options {
	return Options{
		Partitions: 12, ReplicationFactor: 3, MinInSyncReplicas: 2,
		FeedRetention: 7 * 24 * time.Hour, AlertRetention: 30 * 24 * time.Hour,
	}
}

// Topic is one planned topic on one cluster.
type Topic struct {
	Role              string
	Name              string
	Partitions        int
	CoPartitioned     bool
	ReplicationFactor int
	// Configs are the topic configs the plan sets, e.g. cleanup.policy, retention.ms.
	Configs     map[string]string
	Description string
}

// Plan returns the topics of the plan with o's names and settings. It fails, naming the option,
// when o is not usable.
func Plan(o Options) ([]Topic, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	seen := map[string]string{}
	var out []Topic
	for _, s := range specs {
		name := s.Default
		if n, ok := o.Names[s.Role]; ok {
			name = n
		}
		if name == "" {
			return nil, fmt.Errorf("topic of %s: empty name", s.Role)
		}
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("topic %q is named for both %s and %s", name, other, s.Role)
		}
		seen[name] = s.Role
		t := Topic{
			Role: s.Role, Name: name, Partitions: o.Partitions, CoPartitioned: s.Partitions == CoPartitioned,
			ReplicationFactor: o.ReplicationFactor, Description: s.Description,
			Configs: map[string]string{
				"cleanup.policy":      "delete",
				"min.insync.replicas": strconv.Itoa(o.MinInSyncReplicas),
			},
		}
		switch s.Retention {
		case RetainForever:
			t.Configs["retention.ms"] = "-1"
		case RetainFeed:
			t.Configs["retention.ms"] = ms(o.FeedRetention)
		case RetainDeadLetters:
			t.Configs["retention.ms"] = ms(DeadLetterRetention)
		case RetainAlerts:
			t.Configs["retention.ms"] = ms(o.AlertRetention)
		case RetainAudit:
			t.Configs["retention.ms"] = "-1"
			if o.AuditRetention > 0 {
				t.Configs["retention.ms"] = ms(o.AuditRetention)
			}
		case Compacted:
			t.Configs["cleanup.policy"] = "compact"
		}
		out = append(out, t)
	}
	for role := range o.Names {
		if !knownRole(role) {
			return nil, fmt.Errorf("topic name given for %q, which is not a topic of the plan", role)
		}
	}
	return out, nil
}

func knownRole(role string) bool {
	for _, s := range specs {
		if s.Role == role {
			return true
		}
	}
	return false
}

func (o Options) validate() error {
	switch {
	case o.Partitions < 1 || o.Partitions > 10000:
		return fmt.Errorf("partitions %d: want 1 to 10000", o.Partitions)
	case o.ReplicationFactor < 1 || o.ReplicationFactor > 32:
		return fmt.Errorf("replication factor %d: want 1 to 32", o.ReplicationFactor)
	case o.MinInSyncReplicas < 1 || o.MinInSyncReplicas > o.ReplicationFactor:
		return fmt.Errorf("min in-sync replicas %d: want 1 to the replication factor %d", o.MinInSyncReplicas, o.ReplicationFactor)
	case o.FeedRetention < time.Hour:
		return fmt.Errorf("feed retention %s: want at least 1h", o.FeedRetention)
	case o.AlertRetention < time.Hour:
		return fmt.Errorf("alert retention %s: want at least 1h", o.AlertRetention)
	case o.AuditRetention < 0:
		return fmt.Errorf("audit retention %s: want 0 (forever) or more", o.AuditRetention)
	}
	return nil
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
