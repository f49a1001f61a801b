package testenv

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisOptions secure a redis-server started by StartRedis.
type RedisOptions struct {
	// RequirePass is the default user's password (requirepass).
	RequirePass string
	// Users are ACL rules, one user each, as in redis.conf without the
	// "user" keyword: "mercato on >secret ~* +@all".
	Users []string
	// TLS serves TLS only (port 0, tls-port) with a certificate for
	// 127.0.0.1 and localhost signed by a CA generated for the server.
	TLS bool
	// TLSClientAuth requires clients to show a certificate the CA signed.
	TLSClientAuth bool
	// ReplicaOf makes the server a replica of this host:port, logging in
	// with MasterAuth.
	ReplicaOf, MasterAuth string
}

// RedisServer is a running redis-server.
type RedisServer struct {
	Addr string
	// With TLS: the CA (PEM) that signed the server's certificate, and a
	// client certificate and key it signed as well.
	CAFile, ClientCertFile, ClientKeyFile string
}

// ClientTLS returns a client TLS configuration that trusts the server's CA
// and carries the client certificate (nil without TLS).
func (s *RedisServer) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	if s.CAFile == "" {
		return nil
	}
	pemCA, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	cert, err := tls.LoadX509KeyPair(s.ClientCertFile, s.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// StartRedis starts redis-server on a free loopback port without
// persistence, with the authentication and TLS o asks for, and stops it at
// the end of the test.
func StartRedis(t testing.TB, o RedisOptions) *RedisServer {
	t.Helper()
	bin := RequireBinary(t, "redis-server")
	dir := t.TempDir()
	port := FreePort(t)
	srv := &RedisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	conf := []string{
		"bind 127.0.0.1", "dir " + dir, `save ""`, "appendonly no", "protected-mode yes",
		"logfile " + filepath.Join(dir, "redis.log"),
	}
	if o.RequirePass != "" {
		conf = append(conf, "requirepass "+o.RequirePass)
	}
	for _, u := range o.Users {
		conf = append(conf, "user "+u)
	}
	if o.ReplicaOf != "" {
		host, port, _ := net.SplitHostPort(o.ReplicaOf)
		conf = append(conf, "replicaof "+host+" "+port)
	}
	if o.MasterAuth != "" {
		conf = append(conf, "masterauth "+o.MasterAuth)
	}
	var ping *tls.Config
	if o.TLS {
		ca := WriteTestPKI(t, dir)
		srv.CAFile, srv.ClientCertFile, srv.ClientKeyFile = ca.CAFile, ca.ClientCertFile, ca.ClientKeyFile
		auth := "no"
		if o.TLSClientAuth {
			auth = "yes"
		}
		conf = append(conf, "port 0", "tls-port "+strconv.Itoa(port),
			"tls-cert-file "+ca.ServerCertFile, "tls-key-file "+ca.ServerKeyFile, "tls-ca-cert-file "+ca.CAFile,
			"tls-auth-clients "+auth)
		ping = srv.ClientTLS(t)
	} else {
		conf = append(conf, "port "+strconv.Itoa(port))
	}
	confFile := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confFile, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, confFile)
	startServer(t, cmd, "redis-server")
	waitRedis(t, srv.Addr, ping, dir)
	return srv
}

// waitRedis waits until the server at addr answers PING; a refusal for
// want of authentication counts as an answer.
func waitRedis(t testing.TB, addr string, tc *tls.Config, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if redisAlive(addr, tc) == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server on %s did not answer PING: %s", addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisAlive reports whether a redis-server answers at addr, also one that
// wants a password first.
func redisAlive(addr string, tc *tls.Config) error {
	line, err := redisReply(addr, tc)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// redisReply sends PING to addr (over TLS when tc is set) and returns the
// first line of the answer.
func redisReply(addr string, tc *tls.Config) (string, error) {
	d := &net.Dialer{Timeout: time.Second}
	var (
		c   net.Conn
		err error
	)
	if tc != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tc)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// TestPKI is a throwaway CA with a server certificate (for 127.0.0.1 and
// localhost) and a client certificate, all PEM files.
type TestPKI struct {
	CAFile                        string
	ServerCertFile, ServerKeyFile string
	ClientCertFile, ClientKeyFile string
}

// WriteTestPKI generates a CA, a server and a client certificate into dir.
func WriteTestPKI(t testing.TB, dir string) TestPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Mercato test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := TestPKI{CAFile: filepath.Join(dir, "ca.pem")}
	writePEM(t, p.CAFile, "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "PRIVATE KEY", keyDER)
		return certFile, keyFile
	}
	p.ServerCertFile, p.ServerKeyFile = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.ClientCertFile, p.ClientKeyFile = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// RedisCluster starts a Redis Cluster of n primaries without replicas
// (redis-server --cluster-enabled yes, joined by redis-cli --cluster
// create) and returns their addresses once every node reports the cluster
// ok. It skips without redis-cli, or fails under CI.
func RedisCluster(t testing.TB, n int) []string {
	t.Helper()
	bin := RequireBinary(t, "redis-server")
	cli := RequireBinary(t, "redis-cli")
	addrs := make([]string, n)
	for i := range addrs {
		dir := t.TempDir()
		port, busPort := FreePort(t), FreePort(t)
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--logfile", filepath.Join(dir, "redis.log"),
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-port", strconv.Itoa(busPort), "--cluster-node-timeout", "5000")
		startServer(t, cmd, "redis-server")
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		waitRedis(t, addrs[i], nil, dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v: %s", err, out)
	}
	for _, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		WaitFor(t, "cluster_state:ok on "+a, func() bool {
			out, err := exec.CommandContext(ctx, cli, "-h", host, "-p", port, "cluster", "info").Output()
			return err == nil && strings.Contains(string(out), "cluster_state:ok")
		})
	}
	return addrs
}

// SentinelOptions shape the servers RedisSentinel starts.
type SentinelOptions struct {
	// Password is the data servers' password (requirepass and masterauth).
	Password string
	// SentinelPassword is the Sentinel's own password (its requirepass).
	SentinelPassword string
}

// RedisSentinelSet is a primary, its replica and a Sentinel watching them.
type RedisSentinelSet struct {
	Master           string // the name the Sentinel knows the primary by
	Addr             string // the Sentinel's host:port
	Primary, Replica *RedisServer
	o                SentinelOptions
	cli              string
}

// RedisSentinel starts a primary, a replica of it and one Sentinel
// monitoring them as "mercato" (quorum 1), waits until the Sentinel knows
// the replica, and stops them all at the end of the test. It skips without
// redis-server or redis-cli, or fails under CI.
func RedisSentinel(t testing.TB, o SentinelOptions) *RedisSentinelSet {
	t.Helper()
	bin := RequireBinary(t, "redis-server")
	cli := RequireBinary(t, "redis-cli")
	primary := StartRedis(t, RedisOptions{RequirePass: o.Password, MasterAuth: o.Password})
	replica := StartRedis(t, RedisOptions{RequirePass: o.Password, MasterAuth: o.Password, ReplicaOf: primary.Addr})
	set := &RedisSentinelSet{Master: "mercato", Primary: primary, Replica: replica, o: o, cli: cli}
	dir := t.TempDir()
	port := FreePort(t)
	set.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	host, pport, _ := net.SplitHostPort(primary.Addr)
	conf := []string{
		"bind 127.0.0.1", "port " + strconv.Itoa(port), "dir " + dir, "logfile " + filepath.Join(dir, "redis.log"),
		"sentinel monitor mercato " + host + " " + pport + " 1",
		"sentinel down-after-milliseconds mercato 2000",
		"sentinel failover-timeout mercato 10000",
	}
	if o.Password != "" {
		conf = append(conf, "sentinel auth-pass mercato "+o.Password)
	}
	if o.SentinelPassword != "" {
		conf = append(conf, "requirepass "+o.SentinelPassword)
	}
	// The Sentinel rewrites its file with what it learns: it must own it.
	confFile := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(confFile, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, confFile, "--sentinel")
	startServer(t, cmd, "redis-server --sentinel")
	waitRedis(t, set.Addr, nil, dir)
	WaitFor(t, "the Sentinel to see the replica in sync", func() bool {
		out, err := set.Sentinel("SENTINEL", "REPLICAS", "mercato")
		return err == nil && strings.Contains(out, replica.Addr) && strings.Contains(out, "master-link-status\nok")
	})
	return set
}

// Sentinel runs a command on the Sentinel with redis-cli and returns what
// it printed.
func (s *RedisSentinelSet) Sentinel(args ...string) (string, error) {
	host, port, _ := net.SplitHostPort(s.Addr)
	cmdArgs := []string{"-h", host, "-p", port}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.cli, append(cmdArgs, args...)...)
	if s.o.SentinelPassword != "" {
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+s.o.SentinelPassword)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Failover makes the Sentinel promote the replica now and waits until it
// names the replica as the primary.
func (s *RedisSentinelSet) Failover(t testing.TB) {
	t.Helper()
	if out, err := s.Sentinel("SENTINEL", "FAILOVER", s.Master); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("SENTINEL FAILOVER: %v: %s", err, out)
	}
	_, replicaPort, _ := net.SplitHostPort(s.Replica.Addr)
	WaitFor(t, "the Sentinel to name the replica as primary", func() bool {
		out, err := s.Sentinel("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.Master)
		return err == nil && strings.Contains(out, replicaPort)
	})
}
