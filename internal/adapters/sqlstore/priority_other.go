//go:build !linux

package sqlstore

import (
	"errors"
	"fmt"
)

// threadNice is Linux-only: elsewhere the writer keeps the process's priority.
func threadNice() (int, error) {
	return 0, fmt.Errorf("reading the thread's nice value: %w", errors.ErrUnsupported)
}

// setThreadNice is Linux-only, like threadNice.
func setThreadNice(nice int) error {
	return fmt.Errorf("setting the thread's nice value to %d: %w", nice, errors.ErrUnsupported)
}
