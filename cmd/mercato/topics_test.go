package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing/stream"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// topicsBroker starts an embedded broker and creates the event topics with
// eventParts partitions and the pricing changelog with changelogParts (none
// when 0).
func topicsBroker(t *testing.T, eventParts, changelogParts int) string {
	t.Helper()
	b, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: "127.0.0.1:0", Partitions: eventParts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	c, err := bus.NewClient(bus.Options{Brokers: []string{b.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if eventParts > 0 {
		if err := c.EnsureTopics(ctx, event.Topics(), eventParts); err != nil {
			t.Fatal(err)
		}
	}
	if changelogParts > 0 {
		if err := c.EnsureTopics(ctx, stream.Topics(), changelogParts); err != nil {
			t.Fatal(err)
		}
	}
	return b.Addr()
}

func runTopicsCmd(t *testing.T, addr string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	args = append(args, "--data-dir", t.TempDir(), "--kafka-brokers", addr, "--partitions", "2")
	code := run(context.Background(), append([]string{"topics"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestTopicsCheck(t *testing.T) {
	t.Parallel()
	changelog := stream.TopicChangelog
	tests := []struct {
		name                string
		eventParts, clParts int
		wantCode            int
		wantLines           []string // each a problem line of stdout, in order
	}{
		{"consistent", 2, 2, exitOK, nil},
		{"changelog partitions differ", 2, 3, exitRuntime, []string{
			"topic " + changelog + " has 3 partitions but its input " + event.TopicPurchases + " has 2; they must be equal",
			"topic " + changelog + " has 3 partitions but its input " + event.TopicInventory + " has 2; they must be equal",
			"topic " + changelog + " has 3 partitions but its input " + event.TopicProducts + " has 2; they must be equal",
		}},
		{"changelog missing", 2, 0, exitRuntime, []string{"topic " + changelog + " does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := topicsBroker(t, tt.eventParts, tt.clParts)
			code, out, errOut := runTopicsCmd(t, addr, "check")
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.wantCode, out, errOut)
			}
			var lines []string
			if out != "" {
				lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			}
			if strings.Join(lines, "\n") != strings.Join(tt.wantLines, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", out, strings.Join(tt.wantLines, "\n"))
			}
		})
	}
}

func TestTopicsCreateThenDescribe(t *testing.T) {
	t.Parallel()
	b, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if code, out, errOut := runTopicsCmd(t, b.Addr(), "check"); code != exitRuntime || !strings.Contains(out, "topic "+event.TopicOrders+" does not exist") {
		t.Fatalf("check on an empty broker: exit %d, stdout %q stderr %q", code, out, errOut)
	}
	if code, out, errOut := runTopicsCmd(t, b.Addr(), "create"); code != exitOK {
		t.Fatalf("create: exit %d, stdout %q stderr %q", code, out, errOut)
	}
	if code, out, errOut := runTopicsCmd(t, b.Addr(), "check"); code != exitOK {
		t.Fatalf("check after create: exit %d, stdout %q stderr %q", code, out, errOut)
	}
	code, out, errOut := runTopicsCmd(t, b.Addr(), "describe")
	if code != exitOK {
		t.Fatalf("describe: exit %d, stderr %q", code, errOut)
	}
	if n := strings.Count(out, "\n"); n != len(mercatoTopics())+1 {
		t.Errorf("describe printed %d lines, want a header and %d topics:\n%s", n, len(mercatoTopics()), out)
	}
	for _, want := range []string{stream.TopicChangelog + "  ", "compact", "delete"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe output lacks %q:\n%s", want, out)
		}
	}
}

func TestTopicsUsage(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"topics", "list"}, &out, &errb); code != exitConfig || !strings.Contains(errb.String(), `unknown topics command "list"`) {
		t.Errorf("topics list: exit %d, stderr %q", code, errb.String())
	}
}

func TestTopicsHelp(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"help", "topics"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "mercato topics describe|check|create") {
		t.Errorf("help topics: exit %d, stdout %q stderr %q", code, out.String(), errb.String())
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and the other
// ips, and its key.
func selfSigned(t *testing.T, dir string, ips ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for f, b := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// The broker command with TLS and a SCRAM user, and the topics command
// authenticating with the same flags (password from a file).
func TestTopicsAgainstSecuredBrokerCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("broker-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	sasl := []string{"--kafka-sasl-mechanism", "SCRAM-SHA-256", "--kafka-sasl-username", "mercato", "--kafka-sasl-password-file", pwFile}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var brokerErr strings.Builder
	go func() {
		args := append([]string{"broker", "--data-dir", filepath.Join(dir, "data"), "--kafka-listen", addr, "--partitions", "2",
			"--kafka-listen-tls-cert-file", cert, "--kafka-listen-tls-key-file", key, "--log-level", "warn"}, sasl...)
		done <- run(ctx, args, io.Discard, &brokerErr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("broker exit %d: %s", code, brokerErr.String())
		}
	}()
	secured := append([]string{"--kafka-tls-ca-file", cert}, sasl...)
	var code int
	var out, errOut string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if code, out, errOut = runTopicsCmd(t, addr, append([]string{"create"}, secured...)...); code == exitOK {
			break
		}
	}
	if code != exitOK {
		t.Fatalf("create against the secured broker: exit %d, stdout %q stderr %q", code, out, errOut)
	}
	if code, out, errOut := runTopicsCmd(t, addr, append([]string{"check"}, secured...)...); code != exitOK {
		t.Fatalf("check: exit %d, stdout %q stderr %q", code, out, errOut)
	}
	// Without credentials the broker turns the client away, quickly.
	code, _, errOut = runTopicsCmd(t, addr, "check", "--kafka-tls-ca-file", cert)
	if code != exitRuntime || !strings.Contains(errOut, "closed the connection") || strings.Contains(errOut, "broker-secret") {
		t.Errorf("check without SASL: exit %d, stderr %q", code, errOut)
	}
}

func TestBrokerBeyondLoopbackRefusesWithoutTLSAndSCRAM(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb strings.Builder
	code := run(ctx, []string{"broker", "--data-dir", t.TempDir(), "--kafka-listen", "0.0.0.0:0"}, &out, &errb)
	if code != exitRuntime || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "beyond loopback") {
		t.Errorf("exit %d, stderr %q; want one line refusing to listen beyond loopback", code, errb.String())
	}
}

// `topics acls` prints one principal per role with only its own writes:
// pricing writes prices, the api writes rules, nobody else does either.
func TestTopicsACLs(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"topics", "acls", "--topic-prefix", "shop1."}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	writes := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(line, "kafka-acls.sh ") || !strings.Contains(line, "--operation Write --topic ") {
			continue
		}
		f := strings.Fields(line)
		principal, topic := f[5], f[len(f)-1]
		writes[topic] = append(writes[topic], principal)
	}
	for topic, want := range map[string]string{
		"shop1.commerce.prices":        "User:mercato-pricing",
		"shop1.commerce.pricing-rules": "User:mercato-api",
		"shop1.commerce.orders":        "User:mercato-outbox-relay",
	} {
		if got := writes[topic]; len(got) != 1 || got[0] != want {
			t.Errorf("writers of %s = %v, want only %s", topic, got, want)
		}
	}
	if !strings.Contains(out.String(), "--transactional-id shop1.pricing- --resource-pattern-type prefixed") {
		t.Errorf("pricing's transactional ids are not granted:\n%s", out.String())
	}
}
