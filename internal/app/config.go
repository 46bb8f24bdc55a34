package app

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"safetynet/stream/api"
	"safetynet/stream/feed"
	"safetynet/stream/household"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
)

// Config is everything `safetynet run` reads, all from SAFETYNET_* environment variables. Each
// field's desc tag is what `safetynet run -h` says of its variable and what README.md's
// configuration table says (a test keeps them equal); doc:"required" marks a variable without a
// default that must be set, testOnly:"true" one that operators never set. deploy/config-vars.txt
// lists the same variables but the test-only ones.
type Config struct {
	KafkaBrokers      []string `env:"KAFKA_BROKERS" envDefault:"localhost:9092" envSeparator:"," desc:"comma-separated bootstrap brokers"`
	KafkaTLS          bool     `env:"KAFKA_TLS" envDefault:"false" desc:"TLS to the brokers"`
	KafkaTLSCAFile    string   `env:"KAFKA_TLS_CA_FILE" desc:"PEM CA bundle for the brokers' certificates (implies TLS)"`
	KafkaTLSCertFile  string   "env:\"KAFKA_TLS_CERT_FILE\" desc:\"PEM client certificate for mutual TLS (implies TLS; with `SAFETYNET_KAFKA_TLS_KEY_FILE`)\""
	KafkaTLSKeyFile   string   `env:"KAFKA_TLS_KEY_FILE" desc:"PEM private key of the client certificate"`
	KafkaSASLMech     string   "env:\"KAFKA_SASL_MECHANISM\" desc:\"`plain`, `scram-sha-256` or `scram-sha-512`\""
	KafkaSASLUser     string   `env:"KAFKA_SASL_USERNAME" desc:"SASL user"`
	KafkaSASLPassword string   `env:"KAFKA_SASL_PASSWORD" desc:"SASL password"`
	DLQRedact         bool     "env:\"DLQ_REDACT\" envDefault:\"false\" desc:\"replace each ID number in a dead letter's key and value by its person key and masked form, instead of keeping the agency's record byte for byte (`true` in the shipped manifests)\""
	KafkaSASLPlain    bool     `env:"KAFKA_SASL_ALLOW_PLAINTEXT" envDefault:"false" desc:"allow SASL without TLS (the password and all data cross the network in the clear); refused otherwise"`
	GroupID           string   "env:\"GROUP_ID\" envDefault:\"safetynet\" desc:\"consumer group prefix (`-intake`, `-monitor` are appended)\""

	Topics topics.Topics `envPrefix:"TOPIC_"`

	StateDir           string        `env:"STATE_DIR" envDefault:"data/state" desc:"Badger directory: a persistent volume in production"`
	StateEncryptionKey string        `env:"STATE_ENCRYPTION_KEY" desc:"hex AES key (32, 48 or 64 hex digits): encrypts the state at rest"`
	StateCacheMB       int           `env:"STATE_CACHE_MB" envDefault:"64" desc:"Badger block cache"`
	PseudonymKey       string        "env:\"PSEUDONYM_KEY\" doc:\"required\" desc:\"HMAC key for resident ID numbers: at least 32 random bytes as hex (`openssl rand -hex 32`); placeholders are refused, and a key other than the one the state directory was written with stops start-up\""
	APITokens          []string      "env:\"API_TOKENS\" envSeparator:\",\" desc:\"comma-separated `name:token[:role[:area_prefix]]` callers of `/v1` ([docs/privacy.md](docs/privacy.md)): role `caseworker` (default), `supervisor`, `auditor` or `operator`; area prefix of up to 12 digits (default every area); tokens of at least 32 characters; with none, `/v1` answers 401\""
	APITokensFile      string        "env:\"API_TOKENS_FILE\" desc:\"file of more callers, one `name:token[:role[:area_prefix]]` a line (`#` comments and blank lines allowed): a mounted Secret\""
	APIRate            float64       `env:"API_RATE" envDefault:"20" desc:"requests per second each caller may make (429 with Retry-After beyond)"`
	APIBurst           int           `env:"API_BURST" envDefault:"40" desc:"requests a caller may make at once above its rate"`
	HTTPAddr           string        "env:\"HTTP_ADDR\" envDefault:\":8080\" desc:\"`/healthz`, `/readyz`, `/v1`, the caseworker UI `/ui/`, and `/metrics` unless `SAFETYNET_METRICS_ADDR` is set\""
	AdvertisedURL      string        "env:\"ADVERTISED_URL\" desc:\"the URL other instances reach this instance's HTTP server at (default `http://` + the host name + the port of `SAFETYNET_HTTP_ADDR`; a pod's stable name in a StatefulSet); it travels in the monitor group's membership so every instance knows which one serves which household ([docs/scaling.md](docs/scaling.md))\""
	InternalToken      string        "env:\"INTERNAL_TOKEN\" desc:\"credential the instances present to each other when one forwards a request for a household another serves (same value on every instance, at least 32 characters, not a caller token); without it such requests answer 503\""
	StandbyReplicas    int           "env:\"STANDBY_REPLICAS\" envDefault:\"0\" desc:\"warm copies kept of every partition on other instances, which follow its changelog so that a lost instance's partitions are caught up in seconds instead of restored ([docs/scaling.md](docs/scaling.md#standby-replicas)); 0 to 10\""
	UISessionKey       string        "env:\"UI_SESSION_KEY\" desc:\"hex key (at least 32 bytes: `openssl rand -hex 32`) that signs the caseworker UI's session cookies and form tokens; give every instance behind one Service the same key so each accepts the others' cookies ([docs/ui.md](docs/ui.md)); empty: a random key per process (a restart signs everyone out)\""
	UISessionIdle      time.Duration "env:\"UI_SESSION_IDLE\" envDefault:\"8h\" desc:\"how long a caseworker UI session lasts without a page view\""
	MetricsAddr        string        "env:\"METRICS_ADDR\" desc:\"serve `/metrics` on this address (e.g. `:9090`) and not on `SAFETYNET_HTTP_ADDR`\""
	ModelFile          string        `env:"MODEL_FILE" desc:"risk model YAML ([docs/model.md](docs/model.md)); the built-in model when empty"`
	RescoreRate        float64       `env:"RESCORE_RATE" envDefault:"2000" desc:"households re-scored per second (over all partitions of the instance) in the background after a model change"`
	ModelChangeAlerts  string        "env:\"MODEL_CHANGE_ALERTS\" envDefault:\"publish\" desc:\"`publish` or `suppress`: whether level changes made by re-scoring after a model change go to the alert topic (cause `model_change`); suppressed, the state still follows the new model\""
	BackfillUntil      string        "env:\"BACKFILL_UNTIL\" desc:\"RFC 3339 time: events that occurred before it update state without alerts until the backlog is loaded; then every household at a level gets one `raised` alert with cause `backfill` ([docs/operations.md](docs/operations.md#loading-history-backfill))\""
	SpotCheckSeed      string        "env:\"SPOTCHECK_SEED\" desc:\"key of the monthly spot check draw of households receiving aid; overrides the model's `aid.spot_check_seed`; with neither, no spot check is drawn ([docs/verifications.md](docs/verifications.md#spot-checks))\""
	PProf              bool          "env:\"PPROF\" envDefault:\"false\" desc:\"serve Go's profiler at `/debug/pprof/` on the HTTP address (for the bench and for diagnosis; unauthenticated, so keep it off where the port is reachable)\""

	MaxEventBytes       int           "env:\"MAX_EVENT_BYTES\" envDefault:\"65536\" desc:\"larger feed records are dead-lettered as `too_large`\""
	MaxFutureSkew       time.Duration "env:\"MAX_FUTURE_SKEW\" envDefault:\"24h\" desc:\"how far in the future an `occurred_at` may be\""
	UnknownPersonWait   time.Duration "env:\"UNKNOWN_PERSON_WAIT\" envDefault:\"24h\" desc:\"how long an event for a person the registry does not know is held before it is dead-lettered as `unknown_person`\""
	ParkMaxEvents       int           "env:\"PARK_MAX_EVENTS\" envDefault:\"1000000\" desc:\"most events held for persons the registry does not know yet; beyond, they are dead-lettered as `park_full`\""
	ParkMaxBytes        int64         "env:\"PARK_MAX_BYTES\" envDefault:\"1073741824\" desc:\"most bytes of state the held events may take (default 1 GiB); beyond, they are dead-lettered as `park_full`\""
	DedupeWindow        time.Duration `env:"DEDUPE_WINDOW" envDefault:"168h" desc:"how long event ids are remembered to drop resends"`
	AlertRetention      time.Duration `env:"ALERT_RETENTION" envDefault:"26280h" desc:"how long an alert stays in the alert index that /v1/alerts lists (default 3 years; the alert topic has its own retention)"`
	MaxHouseholdMembers int           "env:\"MAX_HOUSEHOLD_MEMBERS\" envDefault:\"50\" desc:\"most persons a household may hold (1–80: the worst-case household then fits one Kafka record of 1 MiB); an event that would add one more is dead-lettered as `household_too_large`\""
	BatchSize           int           `env:"BATCH_SIZE" envDefault:"2000" desc:"most events in one monitor batch"`
	BatchWait           time.Duration `env:"BATCH_WAIT" envDefault:"2ms" desc:"longest wait to fill a monitor batch"`
	StateFormat         int           "env:\"STATE_FORMAT\" envDefault:\"6\" desc:\"stored form of the households written to the state and the changelog: `6`, or `5` while a rolling update from a release that writes 5 is under way, so that an instance not yet updated can read what the updated ones write ([docs/operations.md](docs/operations.md#upgrades))\""

	LogLevel  string "env:\"LOG_LEVEL\" envDefault:\"info\" desc:\"`debug`, `info`, `warn`, `error`\""
	LogFormat string "env:\"LOG_FORMAT\" envDefault:\"json\" desc:\"`json` or `text`\""

	// FrozenTime, for tests only, fixes the monitor's and intake's clock at an RFC 3339 instant so
	// that runs of the same feed are comparable. Not documented for operators.
	FrozenTime string `env:"TEST_FROZEN_TIME" testOnly:"true" desc:"tests only: the service's clock, fixed at this RFC 3339 instant"`
}

// EnvPrefix begins the name of every variable safetynet reads.
const EnvPrefix = "SAFETYNET_"

// LoadConfig reads the environment and checks every value, naming the variable that is wrong.
// An unknown SAFETYNET_* variable is an error too: a misspelt name would otherwise be ignored.
func LoadConfig(environ map[string]string) (Config, error) {
	var c Config
	if err := ParseEnv(&c, environ); err != nil {
		return c, err
	}
	return c, c.validate()
}

// ParseEnv reads the environment into c without the checks of LoadConfig but the types and the
// unknown variables: for the subcommands that take only the Kafka settings or the topic names.
func ParseEnv(c *Config, environ map[string]string) error {
	if err := checkUnknown(environ); err != nil {
		return err
	}
	err := env.ParseWithOptions(c, env.Options{Prefix: EnvPrefix, Environment: environ})
	if err == nil {
		return nil
	}
	// caarlos0/env names the Go field; an operator needs the variable.
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("configuration: %w", err)
	}
	names := envNames(reflect.TypeOf(*c), EnvPrefix)
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			v := names[pe.Name]
			errs = append(errs, fmt.Errorf("%s: %q is not a valid %s: %v", v, environ[v], pe.Type, pe.Err))
			continue
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// envNames maps the config's field names to their variables.
func envNames(t reflect.Type, prefix string) map[string]string {
	out := map[string]string{}
	for i := range t.NumField() {
		f := t.Field(i)
		if p, ok := f.Tag.Lookup("envPrefix"); ok {
			maps.Copy(out, envNames(f.Type, prefix+p))
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			out[f.Name] = prefix + name
		}
	}
	return out
}

func (c *Config) validate() error {
	var errs []error
	bad := func(name, f string, a ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(f, a...)))
	}
	if len(c.KafkaBrokers) == 0 || slices.Contains(c.KafkaBrokers, "") {
		bad("KAFKA_BROKERS", "no broker given (host:port, comma-separated)")
	}
	switch strings.ToLower(c.KafkaSASLMech) {
	case "", "plain", "scram-sha-256", "scram-sha-512":
	default:
		bad("KAFKA_SASL_MECHANISM", "%q is not one of plain, scram-sha-256, scram-sha-512", c.KafkaSASLMech)
	}
	if c.KafkaSASLMech != "" && c.KafkaSASLUser == "" {
		bad("KAFKA_SASL_USERNAME", "required when SAFETYNET_KAFKA_SASL_MECHANISM is set")
	}
	if c.KafkaSASLMech != "" && !c.kafkaTLS() && !c.KafkaSASLPlain {
		bad("KAFKA_SASL_MECHANISM", "SASL without TLS sends the credentials and every record in the clear: set SAFETYNET_KAFKA_TLS=true, or SAFETYNET_KAFKA_SASL_ALLOW_PLAINTEXT=true on a network you trust")
	}
	if (c.KafkaTLSCertFile == "") != (c.KafkaTLSKeyFile == "") {
		bad("KAFKA_TLS_CERT_FILE", "SAFETYNET_KAFKA_TLS_CERT_FILE and SAFETYNET_KAFKA_TLS_KEY_FILE go together (a client certificate and its key)")
	}
	if err := c.Topics.Validate(); err != nil {
		bad("TOPIC_*", "%v", err)
	}
	if c.StateDir == "" {
		bad("STATE_DIR", "empty")
	}
	if c.StateEncryptionKey != "" {
		k, err := hex.DecodeString(c.StateEncryptionKey)
		if err != nil || (len(k) != 16 && len(k) != 24 && len(k) != 32) {
			bad("STATE_ENCRYPTION_KEY", "must be 32, 48 or 64 hex digits (an AES-128/192/256 key)")
		}
	}
	if c.StateCacheMB < 1 || c.StateCacheMB > 64<<10 {
		bad("STATE_CACHE_MB", "%d is out of range 1–65536", c.StateCacheMB)
	}
	if c.PseudonymKey == "" {
		bad("PSEUDONYM_KEY", "required: 32 random bytes in hex (for example `openssl rand -hex 32`); resident ID numbers are never stored without it")
	} else if err := feed.CheckPseudonymKey([]byte(c.PseudonymKey)); err != nil {
		bad("PSEUDONYM_KEY", "%v", err)
	}
	if callers, err := c.Callers(); err != nil {
		errs = append(errs, err)
	} else if c.InternalToken != "" && api.IsCallerToken(callers, c.InternalToken) {
		bad("INTERNAL_TOKEN", "is also a caller's token in SAFETYNET_API_TOKENS; the instances' credential must be its own")
	}
	if c.InternalToken != "" {
		if err := api.CheckInternalToken(c.InternalToken); err != nil {
			bad("INTERNAL_TOKEN", "%v", err)
		}
	}
	if c.AdvertisedURL != "" {
		if u, err := url.Parse(c.AdvertisedURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("ADVERTISED_URL", "%q is not an http:// or https:// URL with a host", c.AdvertisedURL)
		}
	}
	if c.UISessionKey != "" {
		if k, err := hex.DecodeString(c.UISessionKey); err != nil || len(k) < 32 {
			bad("UI_SESSION_KEY", "must be at least 64 hex digits (32 random bytes: `openssl rand -hex 32`)")
		}
	}
	if c.UISessionIdle < time.Minute || c.UISessionIdle > 7*24*time.Hour {
		bad("UI_SESSION_IDLE", "%s is out of range 1m–168h", c.UISessionIdle)
	}
	if c.APIRate <= 0 || c.APIRate > 100000 {
		bad("API_RATE", "%g is out of range (0, 100000] requests per second", c.APIRate)
	}
	if c.APIBurst < 1 || c.APIBurst > 100000 {
		bad("API_BURST", "%d is out of range 1–100000", c.APIBurst)
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.HTTPAddr {
		bad("METRICS_ADDR", "%q is SAFETYNET_HTTP_ADDR too; give metrics their own port or leave it empty", c.MetricsAddr)
	}
	if c.RescoreRate < 1 || c.RescoreRate > 1e6 {
		bad("RESCORE_RATE", "%g is out of range 1–1000000 households per second", c.RescoreRate)
	}
	if c.ModelChangeAlerts != "publish" && c.ModelChangeAlerts != "suppress" {
		bad("MODEL_CHANGE_ALERTS", "%q is not publish or suppress", c.ModelChangeAlerts)
	}
	if _, err := c.backfillUntil(); err != nil {
		bad("BACKFILL_UNTIL", "%q is not an RFC 3339 time (2006-01-02T15:04:05Z)", c.BackfillUntil)
	}
	if c.MaxEventBytes < 256 || c.MaxEventBytes > 16<<20 {
		bad("MAX_EVENT_BYTES", "%d is out of range 256–16777216", c.MaxEventBytes)
	}
	if c.MaxFutureSkew < 0 {
		bad("MAX_FUTURE_SKEW", "must not be negative")
	}
	if c.UnknownPersonWait < time.Second {
		bad("UNKNOWN_PERSON_WAIT", "%s: must be at least 1s", c.UnknownPersonWait)
	}
	if c.StandbyReplicas < 0 || c.StandbyReplicas > 10 {
		bad("STANDBY_REPLICAS", "%d is out of range 0–10", c.StandbyReplicas)
	}
	if c.ParkMaxEvents < 1 || c.ParkMaxEvents > 100_000_000 {
		bad("PARK_MAX_EVENTS", "%d is out of range 1–100000000", c.ParkMaxEvents)
	}
	if c.ParkMaxBytes < 1<<20 || c.ParkMaxBytes > 1<<40 {
		bad("PARK_MAX_BYTES", "%d is out of range 1048576 (1 MiB) – 1099511627776 (1 TiB)", c.ParkMaxBytes)
	}
	if err := household.CheckFormat(c.StateFormat); err != nil {
		bad("STATE_FORMAT", "%v (docs/operations.md#upgrades)", err)
	}
	if c.AlertRetention <= 0 {
		bad("ALERT_RETENTION", "%s: must be above 0", c.AlertRetention)
	}
	if c.DedupeWindow <= 0 {
		bad("DEDUPE_WINDOW", "must be positive")
	}
	if c.MaxHouseholdMembers < 1 || c.MaxHouseholdMembers > household.MaxMembersLimit {
		bad("MAX_HOUSEHOLD_MEMBERS", "%d is out of range 1–%d (a household of more persons could exceed the broker's 1 MiB record limit)", c.MaxHouseholdMembers, household.MaxMembersLimit)
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		bad("BATCH_SIZE", "%d is out of range 1–10000", c.BatchSize)
	}
	if c.BatchWait < 0 || c.BatchWait > 10*time.Second {
		bad("BATCH_WAIT", "%s is out of range 0–10s", c.BatchWait)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("LOG_LEVEL", "%v", err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", "%q is not json or text", c.LogFormat)
	}
	if c.FrozenTime != "" {
		if !testClock {
			bad("TEST_FROZEN_TIME", "this binary was not built for tests (-tags testclock) and refuses a frozen clock; unset it")
		} else if _, err := time.Parse(time.RFC3339, c.FrozenTime); err != nil {
			bad("TEST_FROZEN_TIME", "not an RFC 3339 time")
		}
	}
	return errors.Join(errs...)
}

func (c *Config) kafkaTLS() bool {
	return c.KafkaTLS || c.KafkaTLSCAFile != "" || c.KafkaTLSCertFile != ""
}

// Callers reads the API's callers from SAFETYNET_API_TOKENS and SAFETYNET_API_TOKENS_FILE.
// Errors name the variable and the entry (position, caller name), never the token.
func (c *Config) Callers() ([]api.Caller, error) {
	var file io.Reader
	if c.APITokensFile != "" {
		f, err := os.Open(c.APITokensFile)
		if err != nil {
			return nil, fmt.Errorf("%sAPI_TOKENS_FILE: %w", EnvPrefix, err)
		}
		defer f.Close()
		file = f
	}
	return api.ParseCallers(c.APITokens, EnvPrefix+"API_TOKENS", file, EnvPrefix+"API_TOKENS_FILE")
}

// backfillUntil is the backfill cutoff, zero when none is set.
func (c *Config) backfillUntil() (time.Time, error) {
	if c.BackfillUntil == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, c.BackfillUntil)
}

// Kafka returns the connection settings, loading the CA bundle, the client certificate and the
// SASL mechanism.
func (c *Config) Kafka() (kafkaio.Kafka, error) {
	k := kafkaio.Kafka{Brokers: c.KafkaBrokers}
	if c.kafkaTLS() {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.KafkaTLSCertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.KafkaTLSCertFile, c.KafkaTLSKeyFile)
			if err != nil {
				return k, fmt.Errorf("%sKAFKA_TLS_CERT_FILE, %sKAFKA_TLS_KEY_FILE: %w", EnvPrefix, EnvPrefix, err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		if c.KafkaTLSCAFile != "" {
			pem, err := os.ReadFile(c.KafkaTLSCAFile)
			if err != nil {
				return k, fmt.Errorf("%sKAFKA_TLS_CA_FILE: %w", EnvPrefix, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return k, fmt.Errorf("%sKAFKA_TLS_CA_FILE: %s holds no PEM certificate", EnvPrefix, c.KafkaTLSCAFile)
			}
			tc.RootCAs = pool
		}
		k.TLS = tc
	}
	var mech sasl.Mechanism
	var err error
	switch strings.ToLower(c.KafkaSASLMech) {
	case "plain":
		mech = plain.Mechanism{Username: c.KafkaSASLUser, Password: c.KafkaSASLPassword}
	case "scram-sha-256":
		mech, err = scram.Mechanism(scram.SHA256, c.KafkaSASLUser, c.KafkaSASLPassword)
	case "scram-sha-512":
		mech, err = scram.Mechanism(scram.SHA512, c.KafkaSASLUser, c.KafkaSASLPassword)
	}
	if err != nil {
		return k, fmt.Errorf("%sKAFKA_SASL_MECHANISM: %w", EnvPrefix, err)
	}
	k.SASL = mech
	return k, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("%q is not debug, info, warn or error", s)
	}
	return l, nil
}

// EnvironMap turns os.Environ into the map LoadConfig reads.
func EnvironMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// advertisedURL is SAFETYNET_ADVERTISED_URL, or http://<host name>:<port of the HTTP address>.
func (c *Config) advertisedURL(listening string) string {
	if c.AdvertisedURL != "" {
		return strings.TrimSuffix(c.AdvertisedURL, "/")
	}
	host, _ := os.Hostname()
	_, port, err := net.SplitHostPort(listening)
	if err != nil || host == "" {
		return "http://" + listening
	}
	return "http://" + net.JoinHostPort(host, port)
}
