// Package kafkatest starts a real Kafka-protocol broker (kfake, over TCP) for tests and finds
// the outside tools (kcat, prometheus) tests use.
package kafkatest

import (
	"os"
	"os/exec"
	"testing"

	"safetynet/stream/embedded"
)

// Broker starts an embedded broker with the topics, each of the given partitions, and stops it
// when the test ends. It returns the bootstrap address.
func Broker(t testing.TB, partitions int, topics ...string) (*embedded.Broker, string) {
	t.Helper()
	b, err := embedded.Start("127.0.0.1:0", partitions, topics...)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b, b.Addrs()[0]
}

// Tool returns the path of an outside program the test needs. When it is missing the test
// fails under CI (CI=true), and is skipped on a developer machine, saying how to get it.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found on PATH; CI must install the Debian package %s (see .ci/run)", name, debianPackage)
	}
	t.Skipf("%s not found on PATH; install it with: apt-get install %s", name, debianPackage)
	return ""
}
