package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// Host is a network namespace joined to this one by a veth pair: a process
// started in it (Command) is a separate host on a private /30, reaching
// this machine at HostIP only while the link is up. Cut takes the link
// down, as a failed switch port would: packets vanish, connections hang,
// nothing is reset.
type Host struct {
	Name   string // the namespace
	HostIP string // this side's address: where the namespace reaches us
	IP     string // the namespace's own address
	link   string // this side's veth device
}

var hosts atomic.Int32

// NetHost makes a namespace for one test and removes it (and its veth
// pair) at cleanup. It needs root and iproute2: it skips the test without
// them, and fails it under CI (which runs as root).
func NetHost(t testing.TB) *Host {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil || os.Geteuid() != 0 {
		if InCI() {
			t.Fatalf("network namespaces need root and iproute2 (ip: %v, euid %d), and CI is set", err, os.Geteuid())
		}
		t.Skipf("SKIPPED: network namespaces need root and iproute2 (set CI=1 to make this a failure)")
	}
	n := hosts.Add(1)
	pid := os.Getpid()
	// Names unique per test process; a /30 in 10.213.0.0/16 from the pid
	// and counter, so parallel test binaries rarely meet.
	block := (pid*7 + int(n)) % 16384
	h := &Host{
		Name:   fmt.Sprintf("mercato-%d-%d", pid, n),
		HostIP: fmt.Sprintf("10.213.%d.%d", block/64, block%64*4+1),
		IP:     fmt.Sprintf("10.213.%d.%d", block/64, block%64*4+2),
		link:   fmt.Sprintf("mv%x%da", pid, n),
	}
	peer := strings.TrimSuffix(h.link, "a") + "b"
	if len(h.link) > 15 {
		t.Fatalf("veth name %q is too long", h.link)
	}
	if err := ip("netns", "add", h.Name); err != nil {
		if InCI() {
			t.Fatal(err)
		}
		t.Skipf("SKIPPED: cannot make a network namespace: %v", err)
	}
	t.Cleanup(func() { _ = ip("netns", "del", h.Name) }) // takes the veth pair with it
	for _, args := range [][]string{
		{"link", "add", h.link, "type", "veth", "peer", "name", peer, "netns", h.Name},
		{"addr", "add", h.HostIP + "/30", "dev", h.link},
		{"link", "set", h.link, "up"},
		{"-n", h.Name, "addr", "add", h.IP + "/30", "dev", peer},
		{"-n", h.Name, "link", "set", peer, "up"},
		{"-n", h.Name, "link", "set", "lo", "up"},
	} {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// Command runs name in the namespace.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Cut takes the link down: the namespace is cut off until Restore.
func (h *Host) Cut(t testing.TB) {
	t.Helper()
	if err := ip("link", "set", h.link, "down"); err != nil {
		t.Fatal(err)
	}
}

// Restore brings the link back up.
func (h *Host) Restore(t testing.TB) {
	t.Helper()
	if err := ip("link", "set", h.link, "up"); err != nil {
		t.Fatal(err)
	}
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
