package sqlstore

import (
	"fmt"
	"syscall"
)

// threadNice returns the calling OS thread's nice value. Linux keeps one per
// thread; the raw getpriority system call returns 20 - nice.
func threadNice() (int, error) {
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return 0, fmt.Errorf("reading the thread's nice value: %w", err)
	}
	return 20 - p, nil
}

// setThreadNice sets the calling OS thread's nice value, and only that
// thread's. A lower value than the thread has needs CAP_SYS_NICE or a high
// enough RLIMIT_NICE (ulimit -e, systemd's LimitNICE=).
func setThreadNice(nice int) error {
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice); err != nil {
		return fmt.Errorf("setting the thread's nice value to %d: %w", nice, err)
	}
	return nil
}
