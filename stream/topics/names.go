package topics

// The names of the topics are configuration (SAFETYNET_TOPIC_*): Topics holds them, their
// defaults in one place (the struct tags), and the feed ↔ topic mapping.

import (
	"fmt"
	"reflect"
	"strings"

	"safetynet/stream/feed"
)

// Topics names every Kafka topic safetynet reads or writes. The envDefault tags are the
// defaults: DefaultTopics reads them, so there is one place to change a default name.
type Topics struct {
	Registry        string `env:"REGISTRY" envDefault:"safetynet.feed.registry" desc:"registry feed"`
	Hospital        string `env:"HOSPITAL" envDefault:"safetynet.feed.hospital" desc:"hospital feed"`
	Pension         string `env:"PENSION" envDefault:"safetynet.feed.pension" desc:"pension feed"`
	Employment      string `env:"EMPLOYMENT" envDefault:"safetynet.feed.employment" desc:"employment feed"`
	Disability      string `env:"DISABILITY" envDefault:"safetynet.feed.disability" desc:"disability feed"`
	Applications    string `env:"APPLICATIONS" envDefault:"safetynet.feed.applications" desc:"applications feed (self-declarations and decisions)"`
	Assets          string `env:"ASSETS" envDefault:"safetynet.feed.assets" desc:"assets feed (vehicles, property, businesses, deposits, provident fund)"`
	Casework        string `env:"CASEWORK" envDefault:"safetynet.feed.casework" desc:"casework actions, keyed by household (as many partitions as household-events)"`
	HouseholdEvents string `env:"HOUSEHOLD_EVENTS" envDefault:"safetynet.household-events" desc:"internal, keyed by household"`
	DLQ             string `env:"DLQ" envDefault:"safetynet.dlq" desc:"dead letters"`
	Alerts          string `env:"ALERTS" envDefault:"safetynet.alerts" desc:"alerts"`
	Verifications   string `env:"VERIFICATIONS" envDefault:"safetynet.verifications" desc:"declaration check results and confirmed false declarations, keyed by household"`
	Changelog       string `env:"CHANGELOG" envDefault:"safetynet.changelog" desc:"state changelog (compacted; as many partitions as household-events)"`
	Audit           string `env:"AUDIT" envDefault:"safetynet.audit" desc:"audit trail: every read of household data by API callers"`
	Parked          string `env:"PARKED" envDefault:"safetynet.parked" desc:"events parked for persons the registry does not know yet (compacted; sealed originals)"`
}

// Default returns the default topic names (the envDefault tags of Topics).
func Default() Topics {
	var t Topics
	v := reflect.ValueOf(&t).Elem()
	for i := range v.NumField() {
		v.Field(i).SetString(v.Type().Field(i).Tag.Get("envDefault"))
	}
	return t
}

// All lists every topic name, in the order of the struct: what an embedded broker creates.
func (t Topics) All() []string {
	v := reflect.ValueOf(t)
	out := make([]string, 0, v.NumField())
	for i := range v.NumField() {
		out = append(out, v.Field(i).String())
	}
	return out
}

// ByRole maps each topic's role in the plan ("registry", "household-events", …: its variable's
// name in lower case with dashes) to its configured name.
func (t Topics) ByRole() map[string]string {
	v := reflect.ValueOf(t)
	out := make(map[string]string, v.NumField())
	for i := range v.NumField() {
		role := strings.ReplaceAll(strings.ToLower(v.Type().Field(i).Tag.Get("env")), "_", "-")
		out[role] = v.Field(i).String()
	}
	return out
}

// Feed returns the topic of a feed ("" for an unknown feed name).
func (t Topics) Feed(name string) string {
	switch name {
	case feed.Registry:
		return t.Registry
	case feed.Hospital:
		return t.Hospital
	case feed.Pension:
		return t.Pension
	case feed.Employment:
		return t.Employment
	case feed.Disability:
		return t.Disability
	case feed.Applications:
		return t.Applications
	case feed.Assets:
		return t.Assets
	case feed.Casework:
		return t.Casework
	}
	return ""
}

// FeedOf returns the feed whose topic is topic.
func (t Topics) FeedOf(topic string) (string, bool) {
	for _, f := range feed.Feeds {
		if t.Feed(f) == topic {
			return f, true
		}
	}
	if topic == t.Casework {
		return feed.Casework, true
	}
	return "", false
}

// FeedTopics lists the topics intake consumes: the feed topics in the order of feed.Feeds,
// then the casework feed.
func (t Topics) FeedTopics() []string {
	out := make([]string, 0, len(feed.Feeds)+1)
	for _, f := range feed.Feeds {
		out = append(out, t.Feed(f))
	}
	return append(out, t.Casework)
}

// Validate checks that every topic is named and that no two roles share a topic.
func (t Topics) Validate() error {
	v := reflect.ValueOf(t)
	seen := map[string]string{}
	for i := range v.NumField() {
		role, topic := v.Type().Field(i).Tag.Get("env"), v.Field(i).String()
		if topic == "" {
			return fmt.Errorf("topics: no topic named for %s", role)
		}
		if other, dup := seen[topic]; dup {
			return fmt.Errorf("topics: %s and %s both use topic %q", role, other, topic)
		}
		seen[topic] = role
	}
	return nil
}
