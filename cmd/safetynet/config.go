package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"safetynet/stream/feed"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
)

// config is everything `safetynet run` reads, all from SAFETYNET_* environment variables.
// README.md's configuration table and deploy/config-vars.txt list the same variables.
type config struct {
	KafkaBrokers      []string `env:"KAFKA_BROKERS" envDefault:"localhost:9092" envSeparator:","`
	KafkaTLS          bool     `env:"KAFKA_TLS"`
	DLQRedact         bool     `env:"DLQ_REDACT"`
	KafkaTLSCAFile    string   `env:"KAFKA_TLS_CA_FILE"`
	KafkaSASLMech     string   `env:"KAFKA_SASL_MECHANISM"`
	KafkaSASLUser     string   `env:"KAFKA_SASL_USERNAME"`
	KafkaSASLPassword string   `env:"KAFKA_SASL_PASSWORD"`
	GroupID           string   `env:"GROUP_ID" envDefault:"safetynet"`

	Topics topics.Topics `envPrefix:"TOPIC_"`

	StateDir           string   `env:"STATE_DIR" envDefault:"data/state"`
	StateEncryptionKey string   `env:"STATE_ENCRYPTION_KEY"`
	StateCacheMB       int      `env:"STATE_CACHE_MB" envDefault:"64"`
	PseudonymKey       string   `env:"PSEUDONYM_KEY"`
	APITokens          []string `env:"API_TOKENS" envSeparator:","`
	HTTPAddr           string   `env:"HTTP_ADDR" envDefault:":8080"`
	ModelFile          string   `env:"MODEL_FILE"`

	MaxEventBytes     int           `env:"MAX_EVENT_BYTES" envDefault:"65536"`
	MaxFutureSkew     time.Duration `env:"MAX_FUTURE_SKEW" envDefault:"24h"`
	UnknownPersonWait time.Duration `env:"UNKNOWN_PERSON_WAIT" envDefault:"24h"`
	DedupeWindow      time.Duration `env:"DEDUPE_WINDOW" envDefault:"168h"`
	BatchSize         int           `env:"BATCH_SIZE" envDefault:"500"`
	BatchWait         time.Duration `env:"BATCH_WAIT" envDefault:"5ms"`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"json"`

	// FrozenTime, for tests only, fixes the monitor's and intake's clock at an RFC 3339 instant so
	// that runs of the same feed are comparable. Not documented for operators.
	FrozenTime string `env:"TEST_FROZEN_TIME"`
}

const envPrefix = "SAFETYNET_"

// loadConfig reads the environment and checks every value, naming the variable that is wrong.
func loadConfig(environ map[string]string) (config, error) {
	var c config
	if err := parseEnv(&c, environ); err != nil {
		return c, err
	}
	return c, c.validate()
}

func parseEnv(c *config, environ map[string]string) error {
	err := env.ParseWithOptions(c, env.Options{Prefix: envPrefix, Environment: environ})
	if err == nil {
		return nil
	}
	// caarlos0/env names the Go field; an operator needs the variable.
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("configuration: %w", err)
	}
	names := envNames(reflect.TypeOf(*c), envPrefix)
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

func (c *config) validate() error {
	var errs []error
	bad := func(name, f string, a ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", envPrefix, name, fmt.Sprintf(f, a...)))
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
	if c.MaxEventBytes < 256 || c.MaxEventBytes > 16<<20 {
		bad("MAX_EVENT_BYTES", "%d is out of range 256–16777216", c.MaxEventBytes)
	}
	if c.MaxFutureSkew < 0 {
		bad("MAX_FUTURE_SKEW", "must not be negative")
	}
	if c.UnknownPersonWait <= 0 {
		bad("UNKNOWN_PERSON_WAIT", "must be positive")
	}
	if c.DedupeWindow <= 0 {
		bad("DEDUPE_WINDOW", "must be positive")
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
		if _, err := time.Parse(time.RFC3339, c.FrozenTime); err != nil {
			bad("TEST_FROZEN_TIME", "not an RFC 3339 time")
		}
	}
	return errors.Join(errs...)
}

// kafka returns the connection settings, loading the CA bundle and SASL mechanism.
func (c *config) kafka() (kafkaio.Kafka, error) {
	k := kafkaio.Kafka{Brokers: c.KafkaBrokers}
	if c.KafkaTLS || c.KafkaTLSCAFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.KafkaTLSCAFile != "" {
			pem, err := os.ReadFile(c.KafkaTLSCAFile)
			if err != nil {
				return k, fmt.Errorf("%sKAFKA_TLS_CA_FILE: %w", envPrefix, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return k, fmt.Errorf("%sKAFKA_TLS_CA_FILE: %s holds no PEM certificate", envPrefix, c.KafkaTLSCAFile)
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
		return k, fmt.Errorf("%sKAFKA_SASL_MECHANISM: %w", envPrefix, err)
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

// environMap turns os.Environ into the map caarlos0/env reads.
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
