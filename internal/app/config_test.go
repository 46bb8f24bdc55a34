package app

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"safetynet/stream/household"
)

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(map[string]string{"SAFETYNET_PSEUDONYM_KEY": "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.KafkaBrokers, []string{"localhost:9092"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("brokers %v, want %v", got, want)
	}
	if c.BatchWait != 2*time.Millisecond || c.BatchSize != 2000 || c.UnknownPersonWait != 24*time.Hour {
		t.Errorf("defaults: batch %d/%s, unknown-person wait %s", c.BatchSize, c.BatchWait, c.UnknownPersonWait)
	}
	if c.Topics.Registry != "safetynet.feed.registry" || c.Topics.Changelog != "safetynet.changelog" {
		t.Errorf("topics %+v", c.Topics)
	}
	// the default follows the codec: a release that adds a format writes it unless told not to
	if c.StateFormat != household.FormatLatest {
		t.Errorf("SAFETYNET_STATE_FORMAT defaults to %d, the latest format is %d", c.StateFormat, household.FormatLatest)
	}
}

// TestLoadConfigNamesTheVariable: every bad value stops start-up with the variable's name.
func TestLoadConfigNamesTheVariable(t *testing.T) {
	key := "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no pseudonym key", map[string]string{}, "SAFETYNET_PSEUDONYM_KEY"},
		{"short pseudonym key", map[string]string{"SAFETYNET_PSEUDONYM_KEY": "short"}, "SAFETYNET_PSEUDONYM_KEY"},
		{"placeholder pseudonym key", map[string]string{"SAFETYNET_PSEUDONYM_KEY": strings.Repeat("0123456789abcdef", 4)}, "SAFETYNET_PSEUDONYM_KEY"},
		{"pseudonym key not hex", map[string]string{"SAFETYNET_PSEUDONYM_KEY": "kill-test-pseudonym-key-0123456789abcdef-kill-test-pseudonym-key"}, "SAFETYNET_PSEUDONYM_KEY"},
		{"bad duration", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_BATCH_WAIT": "soon"}, "SAFETYNET_BATCH_WAIT"},
		{"batch size out of range", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_BATCH_SIZE": "0"}, "SAFETYNET_BATCH_SIZE"},
		{"batch size not a number", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_BATCH_SIZE": "many"}, "SAFETYNET_BATCH_SIZE"},
		{"log level", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_LOG_LEVEL": "loud"}, "SAFETYNET_LOG_LEVEL"},
		{"log format", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_LOG_FORMAT": "xml"}, "SAFETYNET_LOG_FORMAT"},
		{"encryption key", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_STATE_ENCRYPTION_KEY": "abc"}, "SAFETYNET_STATE_ENCRYPTION_KEY"},
		{"sasl mechanism", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_KAFKA_SASL_MECHANISM": "kerberos"}, "SAFETYNET_KAFKA_SASL_MECHANISM"},
		{"sasl without user", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_KAFKA_SASL_MECHANISM": "plain"}, "SAFETYNET_KAFKA_SASL_USERNAME"},
		{"two roles, one topic", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_TOPIC_ALERTS": "safetynet.dlq"}, "SAFETYNET_TOPIC_"},
		{"empty broker in the list", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_KAFKA_BROKERS": "k1:9092,,k2:9092"}, "SAFETYNET_KAFKA_BROKERS"},
		{"negative wait", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_UNKNOWN_PERSON_WAIT": "-1h"}, "SAFETYNET_UNKNOWN_PERSON_WAIT"},
		{"misspelt variable", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_BATCH_SIZ": "100"}, "unknown variable SAFETYNET_BATCH_SIZ — did you mean SAFETYNET_BATCH_SIZE?"},
		{"unknown variable", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_WHATEVER_ELSE": "1"}, "unknown variable SAFETYNET_WHATEVER_ELSE"},
		{"sasl without tls", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_KAFKA_SASL_MECHANISM": "scram-sha-512", "SAFETYNET_KAFKA_SASL_USERNAME": "u"}, "SAFETYNET_KAFKA_SASL_ALLOW_PLAINTEXT=true"},
		{"client cert without key", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_KAFKA_TLS_CERT_FILE": "/x/cert.pem"}, "SAFETYNET_KAFKA_TLS_CERT_FILE"},
		{"client cert unreadable", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_KAFKA_TLS_CERT_FILE": "/x/cert.pem", "SAFETYNET_KAFKA_TLS_KEY_FILE": "/x/key.pem"}, "SAFETYNET_KAFKA_TLS_KEY_FILE"},
		{"placeholder token", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_API_TOKENS": "ui:CHANGE-ME-CHANGE-ME-CHANGE-ME-0123456789"}, `SAFETYNET_API_TOKENS entry 1 (caller "ui"): token contains the placeholder word`},
		{"short token", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_API_TOKENS": "ui:9f8e7d6c5b4a3928170,ops:9f8e7d6c"}, `SAFETYNET_API_TOKENS entry 2 (caller "ops"): token is 8 characters`},
		{"bad area", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_API_TOKENS": "ui:9f8e7d6c5b4a39281706f5e4d3c2b1a0:caseworker:42-01"}, `area prefix "42-01"`},
		{"tokens file missing", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_API_TOKENS_FILE": "/nonexistent/tokens"}, "SAFETYNET_API_TOKENS_FILE"},
		{"api rate", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_API_RATE": "0"}, "SAFETYNET_API_RATE"},
		{"state format no release reads", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_STATE_FORMAT": "3"}, "SAFETYNET_STATE_FORMAT"},
		{"metrics on the api port", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_METRICS_ADDR": ":8080"}, "SAFETYNET_METRICS_ADDR"},
		{"tls ca file missing", map[string]string{"SAFETYNET_PSEUDONYM_KEY": key, "SAFETYNET_KAFKA_TLS_CA_FILE": "/nonexistent/ca.pem"}, "SAFETYNET_KAFKA_TLS_CA_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(tc.env)
			if err == nil {
				_, err = c.Kafka()
			}
			if err == nil {
				t.Fatalf("accepted; want an error naming %s", tc.want)
			}
			if strings.Contains(err.Error(), "9f8e7d6c") || strings.Contains(err.Error(), "CHANGE-ME") {
				t.Errorf("error prints a token: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
		})
	}
}

// TestRunRefusesABadModelFile: a model file with an error stops start-up naming the variable
// and the field.
func TestRunRefusesABadModelFile(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/model.yaml"
	if err := writeFile(bad, "version: x\nweights: {demographic: 2}\n"); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(map[string]string{"SAFETYNET_PSEUDONYM_KEY": "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d", "SAFETYNET_MODEL_FILE": bad, "SAFETYNET_STATE_DIR": dir + "/state"})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = Run(t.Context(), c, Options{Stderr: &out})
	if err == nil || !strings.Contains(err.Error(), "SAFETYNET_MODEL_FILE") || !strings.Contains(err.Error(), "weights") {
		t.Fatalf("run with a bad model: %v; want an error naming SAFETYNET_MODEL_FILE and the field", err)
	}
}

// TestRunWarnsWithoutEncryption: start-up says so when the state is not encrypted at rest (and
// not when it is). A bad model file ends the run right after, so no broker is needed.
func TestRunWarnsWithoutEncryption(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/model.yaml"
	if err := writeFile(bad, "version: x\n"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  string
		warn bool
	}{{"", true}, {"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", false}} {
		c, err := LoadConfig(map[string]string{"SAFETYNET_PSEUDONYM_KEY": "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d",
			"SAFETYNET_MODEL_FILE": bad, "SAFETYNET_STATE_DIR": dir + "/state", "SAFETYNET_STATE_ENCRYPTION_KEY": tc.key})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		_ = Run(t.Context(), c, Options{Stderr: &out})
		if got := strings.Contains(out.String(), "not encrypted at rest"); got != tc.warn {
			t.Errorf("key %q: warned %v, want %v; log:\n%s", tc.key, got, tc.warn, out.String())
		}
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// FuzzLoadConfig: any values of the variables give a config or an error naming a variable,
// never a panic, and an accepted config is within the ranges validate promises.
func FuzzLoadConfig(f *testing.F) {
	f.Add("localhost:9092", "500", "5ms", "24h", "info", "json", "")
	f.Add("a:1,,b:2", "0", "soon", "-1h", "loud", "xml", "abc")
	f.Add("k:9092", "10000", "10s", "1ns", "debug", "text", "00112233445566778899aabbccddeeff")
	f.Fuzz(func(t *testing.T, brokers, batch, wait, unknownWait, level, format, encKey string) {
		env := map[string]string{
			"SAFETYNET_PSEUDONYM_KEY": "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d", "SAFETYNET_KAFKA_BROKERS": brokers,
			"SAFETYNET_BATCH_SIZE": batch, "SAFETYNET_BATCH_WAIT": wait, "SAFETYNET_UNKNOWN_PERSON_WAIT": unknownWait,
			"SAFETYNET_LOG_LEVEL": level, "SAFETYNET_LOG_FORMAT": format, "SAFETYNET_STATE_ENCRYPTION_KEY": encKey,
		}
		c, err := LoadConfig(env)
		if err != nil {
			if !strings.Contains(err.Error(), "SAFETYNET_") {
				t.Fatalf("error names no variable: %v", err)
			}
			return
		}
		if c.BatchSize < 1 || c.BatchSize > 10000 || c.BatchWait < 0 || c.UnknownPersonWait <= 0 || len(c.KafkaBrokers) == 0 {
			t.Fatalf("accepted out-of-range config: %+v", c)
		}
		if _, err := newLogger(c, io.Discard); err != nil {
			t.Fatalf("accepted config whose logger fails: %v", err)
		}
	})
}

// TestFrozenClockOnlyInTestBuilds: SAFETYNET_TEST_FROZEN_TIME is a known variable, honoured by
// a binary built with -tags testclock (test/crash builds it so) and refused, naming the
// variable, by any other build: a production `safetynet run` cannot be given a fixed clock.
func TestFrozenClockOnlyInTestBuilds(t *testing.T) {
	c, err := LoadConfig(map[string]string{"SAFETYNET_PSEUDONYM_KEY": "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d", "SAFETYNET_TEST_FROZEN_TIME": "2025-06-01T00:00:00Z"})
	if testClock {
		if err != nil || c.FrozenTime != "2025-06-01T00:00:00Z" {
			t.Fatalf("test build: LoadConfig: %+v, %v", c.FrozenTime, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "SAFETYNET_TEST_FROZEN_TIME") || !strings.Contains(err.Error(), "testclock") {
		t.Fatalf("production build: LoadConfig with a frozen clock: %v, want a refusal naming the variable", err)
	}
}

func TestClosest(t *testing.T) {
	known := []string{"SAFETYNET_BATCH_SIZE", "SAFETYNET_BATCH_WAIT", "SAFETYNET_LOG_LEVEL"}
	for _, tc := range []struct{ name, want string }{
		{"SAFETYNET_BATCH_SIZ", "SAFETYNET_BATCH_SIZE"},
		{"SAFETYNET_BATCHSIZE", "SAFETYNET_BATCH_SIZE"},
		{"SAFETYNET_LOGLEVEL", "SAFETYNET_LOG_LEVEL"},
		{"SAFETYNET_BATCH_WIAT", "SAFETYNET_BATCH_WAIT"},
		{"SAFETYNET_SOMETHING_ELSE_ENTIRELY", ""},
	} {
		if got := closest(tc.name, known); got != tc.want {
			t.Errorf("closest(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
