package bus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// testCerts writes a CA and a broker certificate for 127.0.0.1/localhost
// signed by it into dir, returning the file paths.
func testCerts(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mercato test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("broker.pem", "CERTIFICATE", der), write("broker-key.pem", "EC PRIVATE KEY", keyDER)
}

const (
	testUser = "mercato"
	testPass = "s3cret-Passw0rd"
)

// secureBroker starts an embedded broker with TLS and a SCRAM-SHA-256
// superuser, returning its address and the CA file that signed its cert.
func secureBroker(t *testing.T, extra ...bus.BrokerUser) (addr, caFile string) {
	t.Helper()
	dir := t.TempDir()
	caFile, certFile, keyFile := testCerts(t, dir)
	users := append([]bus.BrokerUser{{Mechanism: bus.SASLScramSHA256, Name: testUser, Password: testPass, Superuser: true}}, extra...)
	b, err := bus.StartEmbedded(bus.EmbeddedOptions{
		Listen:      "127.0.0.1:0",
		Partitions:  2,
		TLSCertFile: certFile,
		TLSKeyFile:  keyFile,
		Users:       users,
		ACLs:        len(extra) > 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr(), caFile
}

func TestSecuredBrokerAcceptsRightCredentials(t *testing.T) {
	t.Parallel()
	addr, ca := secureBroker(t)
	c, err := bus.NewClient(bus.Options{Brokers: []string{addr}, Security: bus.Security{
		CAFile: ca, SASLMechanism: bus.SASLScramSHA256, Username: testUser, Password: testPass,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.EnsureTopics(ctx, []event.TopicSpec{{Name: "secure.events"}}, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, msg(t, "secure.events", "sku-1", 1), msg(t, "secure.events", "sku-1", 2)); err != nil {
		t.Fatal(err)
	}
	var got []int
	err = c.ReadPartitions(ctx, "secure.events", []int32{0, 1}, func(r *bus.Record) {
		env, err := event.Decode(r.Value)
		if err != nil {
			t.Errorf("decoding: %v", err)
			return
		}
		got = append(got, nOf(t, env))
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("read %v, want [1 2]", got)
	}
}

func TestSecuredBrokerRejectsWrongClients(t *testing.T) {
	t.Parallel()
	addr, ca := secureBroker(t)
	tests := []struct {
		name string
		sec  bus.Security
		want string // in the error
	}{
		{"wrong password", bus.Security{CAFile: ca, SASLMechanism: bus.SASLScramSHA256, Username: testUser, Password: "wrong-" + testPass}, "SASL SCRAM-SHA-256 as"},
		{"unknown user", bus.Security{CAFile: ca, SASLMechanism: bus.SASLScramSHA256, Username: "nobody", Password: testPass}, "SASL SCRAM-SHA-256 as"},
		{"no TLS", bus.Security{SASLMechanism: bus.SASLScramSHA256, Username: testUser, Password: testPass}, "TLS missing"},
		{"untrusted certificate", bus.Security{TLS: true, SASLMechanism: bus.SASLScramSHA256, Username: testUser, Password: testPass}, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := bus.NewClient(bus.Options{Brokers: []string{addr}, Security: tt.sec})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			err = c.Ping(ctx)
			if err == nil {
				t.Fatal("Ping succeeded, want an error")
			}
			if time.Since(start) > 10*time.Second+time.Second {
				t.Errorf("Ping took %v", time.Since(start))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testPass) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestEmbeddedBrokerACLsLetOnlyPricingWritePrices(t *testing.T) {
	t.Parallel()
	pricing := bus.BrokerUser{Mechanism: bus.SASLScramSHA512, Name: "pricing", Password: "pricing-pass",
		Grants: bus.Grants{Write: []string{event.TopicPrices}}}
	orders := bus.BrokerUser{Mechanism: bus.SASLScramSHA512, Name: "orders", Password: "orders-pass",
		Grants: bus.Grants{Write: []string{event.TopicOrders}}}
	addr, ca := secureBroker(t, pricing, orders)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := func(u bus.BrokerUser) *bus.Client {
		c, err := bus.NewClient(bus.Options{Brokers: []string{addr}, Security: bus.Security{
			CAFile: ca, SASLMechanism: u.Mechanism, Username: u.Name, Password: u.Password,
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	admin := client(bus.BrokerUser{Mechanism: bus.SASLScramSHA256, Name: testUser, Password: testPass})
	if err := admin.EnsureTopics(ctx, []event.TopicSpec{{Name: event.TopicPrices}, {Name: event.TopicOrders}}, 1); err != nil {
		t.Fatal(err)
	}
	if err := client(pricing).Publish(ctx, msg(t, event.TopicPrices, "sku-1", 1)); err != nil {
		t.Fatalf("pricing writing prices: %v", err)
	}
	if err := client(orders).Publish(ctx, msg(t, event.TopicOrders, "sku-1", 1)); err != nil {
		t.Fatalf("orders writing orders: %v", err)
	}
	err := client(orders).Publish(ctx, msg(t, event.TopicPrices, "sku-1", 2))
	if err == nil || !strings.Contains(err.Error(), "TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("orders writing prices: got %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

func TestEmbeddedBrokerBeyondLoopbackNeedsTLSAndSCRAM(t *testing.T) {
	t.Parallel()
	certFile, keyFile := filepath.Join(t.TempDir(), "none.pem"), filepath.Join(t.TempDir(), "none-key.pem")
	scram := []bus.BrokerUser{{Mechanism: bus.SASLScramSHA256, Name: "u", Password: "p", Superuser: true}}
	tests := []struct {
		name string
		o    bus.EmbeddedOptions
	}{
		{"nothing", bus.EmbeddedOptions{Listen: "0.0.0.0:0"}},
		{"SCRAM without TLS", bus.EmbeddedOptions{Listen: "0.0.0.0:0", Users: scram}},
		{"TLS without SCRAM", bus.EmbeddedOptions{Listen: ":0", TLSCertFile: certFile, TLSKeyFile: keyFile}},
		{"PLAIN is not enough", bus.EmbeddedOptions{Listen: "0.0.0.0:0", TLSCertFile: certFile, TLSKeyFile: keyFile,
			Users: []bus.BrokerUser{{Mechanism: bus.SASLPlain, Name: "u", Password: "p"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := bus.StartEmbedded(tt.o)
			if err == nil {
				b.Close()
				t.Fatal("broker started beyond loopback without TLS and SCRAM")
			}
			if !strings.Contains(err.Error(), "beyond loopback") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not the one-line refusal", err)
			}
		})
	}
}

func TestEnsureTopicsPolicy(t *testing.T) {
	t.Parallel()
	seed := testenv.Kafka(t, 2).Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	checkOnly, err := bus.NewClient(bus.Options{Brokers: []string{seed}, Prefix: "policy.", Topics: bus.TopicPolicy{NoCreate: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer checkOnly.Close()
	specs := []event.TopicSpec{{Name: "a"}, {Name: "b", Compacted: true}}
	err = checkOnly.EnsureTopics(ctx, specs, 2)
	if err == nil || !strings.Contains(err.Error(), "policy.a, policy.b") {
		t.Fatalf("EnsureTopics with creation off: got %v, want both topics named missing", err)
	}
	creator, err := bus.NewClient(bus.Options{Brokers: []string{seed}, Prefix: "policy.", Topics: bus.TopicPolicy{ReplicationFactor: 1, MinInsyncReplicas: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer creator.Close()
	if err := creator.EnsureTopics(ctx, specs, 3); err != nil {
		t.Fatal(err)
	}
	if err := checkOnly.EnsureTopics(ctx, specs, 2); err != nil {
		t.Fatalf("EnsureTopics with creation off after creating: %v", err)
	}
	infos, err := checkOnly.DescribeTopics(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if !in.Exists || in.Partitions != 3 || in.Replication != 1 || in.MinInsyncReplicas != "1" {
			t.Errorf("%+v: want 3 partitions, replication 1, min.insync.replicas 1", in)
		}
	}
	if infos[1].CleanupPolicy != "compact" || infos[0].CleanupPolicy != "delete" {
		t.Errorf("cleanup policies %q, %q; want delete, compact", infos[0].CleanupPolicy, infos[1].CleanupPolicy)
	}
}

func TestSecuredBrokerMechanisms(t *testing.T) {
	t.Parallel()
	users := []bus.BrokerUser{
		{Mechanism: bus.SASLPlain, Name: "plain-user", Password: "plain-pass", Superuser: true},
		{Mechanism: bus.SASLScramSHA512, Name: "scram512-user", Password: "scram512-pass", Superuser: true},
	}
	addr, ca := secureBroker(t, users...)
	for _, u := range users {
		t.Run(u.Mechanism, func(t *testing.T) {
			t.Parallel()
			c, err := bus.NewClient(bus.Options{Brokers: []string{addr}, Security: bus.Security{
				CAFile: ca, SASLMechanism: u.Mechanism, Username: u.Name, Password: u.Password,
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.Ping(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSecuritySettingsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	token := filepath.Join(dir, "token")
	emptyToken := filepath.Join(dir, "empty-token")
	for f, b := range map[string]string{notPEM: "nope", token: "eyJ.tok\n", emptyToken: "\n"} {
		if err := os.WriteFile(f, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		sec  bus.Security
		want string // empty: valid
	}{
		{"plaintext", bus.Security{}, ""},
		{"OAUTHBEARER with a token", bus.Security{SASLMechanism: bus.SASLOAuthBearer, OAuthTokenFile: token}, ""},
		{"insecure TLS", bus.Security{InsecureSkipVerify: true}, ""},
		{"unknown mechanism", bus.Security{SASLMechanism: "GSSAPI"}, `unknown Kafka SASL mechanism "GSSAPI"`},
		{"SCRAM without password", bus.Security{SASLMechanism: bus.SASLScramSHA256, Username: "u"}, "needs a username and a password"},
		{"OAUTHBEARER without token", bus.Security{SASLMechanism: bus.SASLOAuthBearer}, "needs a token file"},
		{"OAUTHBEARER empty token", bus.Security{SASLMechanism: bus.SASLOAuthBearer, OAuthTokenFile: emptyToken}, "is empty"},
		{"CA file without PEM", bus.Security{CAFile: notPEM}, "holds no PEM certificate"},
		{"missing CA file", bus.Security{CAFile: filepath.Join(dir, "missing")}, "reading Kafka TLS CA file"},
		{"cert without key", bus.Security{CertFile: notPEM}, "set both or neither"},
		{"bad key pair", bus.Security{CertFile: notPEM, KeyFile: notPEM}, "loading Kafka TLS client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := bus.NewClient(bus.Options{Brokers: []string{"127.0.0.1:1"}, Security: tt.sec})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatalf("NewClient accepted %s", tt.name)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// Printing a client's options, as a log line might, shows no password.
func TestSecurityPrintsNoPassword(t *testing.T) {
	t.Parallel()
	o := bus.Options{Brokers: []string{"k:9093"}, Security: bus.Security{SASLMechanism: bus.SASLScramSHA512, Username: "mercato", Password: testPass}}
	for _, s := range []string{fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprint(o.Security)} {
		if strings.Contains(s, testPass) {
			t.Errorf("%q shows the password", s)
		}
	}
	if got := o.Security.String(); got != `plaintext, SASL SCRAM-SHA-512 as "mercato"` {
		t.Errorf("String() = %q", got)
	}
}

// The configured users are the broker's users on every start: credentials
// a durable broker saved on an earlier start neither linger nor override.
func TestDurableBrokerUsesTheConfiguredUsers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, certFile, keyFile := testCerts(t, dir)
	dataDir := filepath.Join(dir, "kafka")
	start := func(pass string) *bus.EmbeddedBroker {
		b, err := bus.StartEmbedded(bus.EmbeddedOptions{
			Listen: "127.0.0.1:0", DataDir: dataDir, TLSCertFile: certFile, TLSKeyFile: keyFile,
			Users: []bus.BrokerUser{{Mechanism: bus.SASLScramSHA256, Name: testUser, Password: pass, Superuser: true}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ping := func(addr, pass string) error {
		c, err := bus.NewClient(bus.Options{Brokers: []string{addr}, Security: bus.Security{
			InsecureSkipVerify: true, SASLMechanism: bus.SASLScramSHA256, Username: testUser, Password: pass,
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return c.Ping(ctx)
	}
	b1 := start("old-pass")
	err := ping(b1.Addr(), "old-pass")
	// Closing flushes the broker's state, users included, to dataDir.
	b1.Close()
	if err != nil {
		t.Fatal(err)
	}
	b2 := start("new-pass")
	defer b2.Close()
	addr := b2.Addr()
	if err := ping(addr, "new-pass"); err != nil {
		t.Errorf("the configured password after a restart: %v", err)
	}
	if err := ping(addr, "old-pass"); err == nil {
		t.Error("the password of the previous start still works")
	}
}
