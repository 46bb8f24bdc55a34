package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client certificate, written as
// PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	server                    tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "safetynet test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srvDER, srvKey := leaf(2, "broker", x509.ExtKeyUsageServerAuth)
	cliDER, cliKey := leaf(3, "safetynet", x509.ExtKeyUsageClientAuth)
	cliKeyDER, _ := x509.MarshalECPrivateKey(cliKey)
	pki := testPKI{
		caFile:   write("ca.pem", "CERTIFICATE", caDER),
		certFile: write("client.pem", "CERTIFICATE", cliDER),
		keyFile:  write("client-key.pem", "EC PRIVATE KEY", cliKeyDER),
		pool:     x509.NewCertPool(),
		server:   tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
	}
	pki.pool.AddCert(ca)
	return pki
}

// secureBroker is a kfake cluster over TLS that requires SASL (SCRAM-SHA-512 user safetynet)
// and, when mtls, a client certificate signed by the CA.
func secureBroker(t *testing.T, pki testPKI, mtls bool) string {
	t.Helper()
	tc := &tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12}
	if mtls {
		tc.ClientAuth, tc.ClientCAs = tls.RequireAndVerifyClientCert, pki.pool
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(tc), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "safetynet", "right-password-0123"), kfake.SeedTopics(1, "safetynet.audit"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// metadata asks the brokers of cfg for metadata the way the readiness probe does, and returns
// the error explained as the probe logs it.
func metadata(t *testing.T, env map[string]string) error {
	t.Helper()
	env["SAFETYNET_PSEUDONYM_KEY"] = "5f1c9a7e3b2d8046e9a1c37f5b0d2e8a4c6f9b1d3e5a7c0f2b4d6e8a1c3f5b7d"
	cfg, err := LoadConfig(env)
	if err != nil {
		return err
	}
	k, err := cfg.Kafka()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(k.Brokers...), Transport: k.Transport(), Timeout: 5 * time.Second}
	_, err = client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return explainKafkaError(err, k)
	}
	return nil
}

// TestKafkaTLSAndSASL: against a broker that requires TLS and SCRAM, the right CA and password
// reach it; a wrong password and an untrusted CA fail with errors that name what to fix; with
// mutual TLS, the client certificate is needed and enough.
func TestKafkaTLSAndSASL(t *testing.T) {
	pki := newTestPKI(t)
	addr := secureBroker(t, pki, false)
	mtlsAddr := secureBroker(t, pki, true)
	base := func(addr, password string) map[string]string {
		return map[string]string{
			"SAFETYNET_KAFKA_BROKERS": addr, "SAFETYNET_KAFKA_TLS_CA_FILE": pki.caFile,
			"SAFETYNET_KAFKA_SASL_MECHANISM": "scram-sha-512", "SAFETYNET_KAFKA_SASL_USERNAME": "safetynet",
			"SAFETYNET_KAFKA_SASL_PASSWORD": password,
		}
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" for success, else a substring of the error
	}{
		{"right CA and password", base(addr, "right-password-0123"), ""},
		{"wrong password", base(addr, "wrong-password"), "SAFETYNET_KAFKA_SASL_USERNAME"},
		{"untrusted CA", func() map[string]string {
			e := base(addr, "right-password-0123")
			delete(e, "SAFETYNET_KAFKA_TLS_CA_FILE")
			e["SAFETYNET_KAFKA_TLS"] = "true"
			return e
		}(), "SAFETYNET_KAFKA_TLS_CA_FILE"},
		{"mTLS without a client certificate", base(mtlsAddr, "right-password-0123"), "SAFETYNET_KAFKA_TLS_CERT_FILE"},
		{"mTLS with the client certificate", func() map[string]string {
			e := base(mtlsAddr, "right-password-0123")
			e["SAFETYNET_KAFKA_TLS_CERT_FILE"], e["SAFETYNET_KAFKA_TLS_KEY_FILE"] = pki.certFile, pki.keyFile
			return e
		}(), ""},
		{"SASL without TLS refused at start-up", map[string]string{
			"SAFETYNET_KAFKA_BROKERS": addr, "SAFETYNET_KAFKA_SASL_MECHANISM": "scram-sha-512",
			"SAFETYNET_KAFKA_SASL_USERNAME": "safetynet", "SAFETYNET_KAFKA_SASL_PASSWORD": "right-password-0123",
		}, "SAFETYNET_KAFKA_SASL_ALLOW_PLAINTEXT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := metadata(t, tc.env)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("metadata: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "right-password") {
				t.Errorf("error prints the password: %v", err)
			}
		})
	}
}
