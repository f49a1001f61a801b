//go:build !linux

package sqlstore

import (
	"errors"
	"fmt"
)

// Thread priorities are Linux-only here: elsewhere the writer keeps the
// process's priority.

func threadNice() (int, error) {
	return 0, fmt.Errorf("reading the SQLite writer's nice value: %w", errors.ErrUnsupported)
}

func setThreadNice(nice int) error {
	return fmt.Errorf("setting the SQLite writer's nice value to %d: %w", nice, errors.ErrUnsupported)
}
