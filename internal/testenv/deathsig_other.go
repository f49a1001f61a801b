//go:build !linux

package testenv

import "os/exec"

// DiesWithTest is a no-op where the kernel cannot kill a child with its
// parent; the test's cleanup kills it.
func DiesWithTest(*exec.Cmd) {}
