package monitor

import (
	"testing"
	"time"

	"safetynet/stream/api"
	"safetynet/stream/kafkaio"
	"safetynet/stream/topics"
)

// apiTestToken is the token of the API tests' caller (a caseworker of every area).
const apiTestToken = "monitor-api-7f3a9c01d2e4b5a6978877665544"

// apiConfig is the API of the monitor's tests: one caller with token, the audit trail on the
// broker at addr.
func apiConfig(t *testing.T, addr, token string, now func() time.Time) api.Config {
	t.Helper()
	c, err := api.NewCaller("monitor-tests", token, api.RoleCaseworker, "")
	if err != nil {
		t.Fatal(err)
	}
	audit := api.NewKafkaAudit(kafkaio.Kafka{Brokers: []string{addr}}, topics.Default().Audit)
	t.Cleanup(func() { audit.Close() })
	return api.Config{Callers: []api.Caller{c}, Auditor: audit, Trail: audit, Now: now}
}
