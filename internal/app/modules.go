package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// module is one part of a Mercato process: a role, or something roles share
// (the system of record, the event log, the price book, ...). init builds it
// once every module it depends on is built; stop, when set, releases what
// init acquired. An init that fails releases what it acquired itself.
type module struct {
	deps []string
	init func(ctx context.Context) error
	stop func()
}

// modules builds the modules a process needs, each once and after its
// dependencies, and stops the built ones in the reverse order.
type modules struct {
	table   map[string]module
	started []string // in the order they were built
}

// order lists targets and everything they depend on, dependencies first and
// each once. Modules that do not depend on one another keep the order in
// which targets and deps name them, so a process starts the same way every
// time.
func (m *modules) order(targets ...string) ([]string, error) {
	var (
		out   []string
		done  = map[string]bool{}
		stack []string // the path being resolved, to name a cycle
	)
	var visit func(name string) error
	visit = func(name string) error {
		if done[name] {
			return nil
		}
		if i := slices.Index(stack, name); i >= 0 {
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(stack[i:], name), " -> "))
		}
		mod, ok := m.table[name]
		if !ok {
			if len(stack) > 0 {
				return fmt.Errorf("unknown module %q (a dependency of %q)", name, stack[len(stack)-1])
			}
			return fmt.Errorf("unknown module %q", name)
		}
		stack = append(stack, name)
		for _, d := range mod.deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		done[name] = true
		out = append(out, name)
		return nil
	}
	for _, t := range targets {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// init builds targets and their dependencies; a module built already, by
// this call or an earlier one, is not built again. It stops at the first
// error and returns it as it is: each init's error already says what
// failed, in the words the operator reads. The modules built until then
// stay started, for stop.
func (m *modules) init(ctx context.Context, targets ...string) error {
	order, err := m.order(targets...)
	if err != nil {
		return err
	}
	for _, name := range order {
		if slices.Contains(m.started, name) {
			continue
		}
		if err := m.table[name].init(ctx); err != nil {
			return err
		}
		m.started = append(m.started, name)
	}
	return nil
}

// stop stops the built modules, the last built first; calling it again
// stops nothing more.
func (m *modules) stop() {
	for i := len(m.started) - 1; i >= 0; i-- {
		if stop := m.table[m.started[i]].stop; stop != nil {
			stop()
		}
	}
	m.started = nil
}
