package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
)

// InCI reports whether the CI environment variable is set.
func InCI() bool { return os.Getenv("CI") != "" }

// RequireBinary returns the path of a server binary, looking in PATH and then
// in the extra directories. It skips the test when the binary is missing,
// or fails it under CI.
func RequireBinary(t testing.TB, name string, extraDirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range extraDirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if InCI() {
		t.Fatalf("%s is not installed, and CI is set: install it (see .ci/run)", name)
		return ""
	}
	t.Skipf("SKIPPED: %s is not installed; this test needs a real server (set CI=1 to make this a failure)", name)
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Kafka starts an in-process Kafka-protocol broker with its log in a temp
// directory, creates Mercato's topics and returns its seed address.
func Kafka(t testing.TB, partitions int) *bus.EmbeddedBroker {
	t.Helper()
	b, err := bus.StartEmbedded(bus.EmbeddedOptions{
		Listen: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), "kafka"), Partitions: partitions,
	})
	if err != nil {
		t.Fatalf("starting embedded broker: %v", err)
	}
	t.Cleanup(b.Close)
	c := BusClient(t, b.Addr(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.EnsureTopics(ctx, event.Topics(), partitions); err != nil {
		t.Fatalf("creating topics: %v", err)
	}
	return b
}

// BusClient returns a producer client closed at the end of the test.
func BusClient(t testing.TB, seed, prefix string) *bus.Client {
	t.Helper()
	c, err := bus.NewClient(bus.Options{Brokers: []string{seed}, Prefix: prefix, ClientID: "mercato-test"})
	if err != nil {
		t.Fatalf("bus client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Redis starts redis-server on a free loopback port without persistence and
// returns host:port.
func Redis(t testing.TB) string {
	t.Helper()
	bin := RequireBinary(t, "redis-server")
	dir := t.TempDir()
	port := FreePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--logfile", filepath.Join(dir, "redis.log"))
	startServer(t, cmd, "redis-server")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if redisPing(addr) == nil {
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server on %s did not answer PING: %s", addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func redisPing(addr string) error {
	line, err := redisReply(addr, nil)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// WaitFor polls cond every 10 ms until it holds, failing the test when it
// has not within 30 s.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startServer starts cmd, a server the test needs (what names it in a
// failure), and kills it at the end of the test.
func startServer(t testing.TB, cmd *exec.Cmd, what string) {
	t.Helper()
	DiesWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", what, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}
