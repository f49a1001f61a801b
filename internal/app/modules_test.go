package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// recorder builds a module table whose inits and stops write down their
// module's name, in the order they run.
type recorder struct {
	inits, stops []string
	fail         string // the module whose init fails
}

func (r *recorder) table(deps map[string][]string) map[string]module {
	t := map[string]module{}
	for name, d := range deps {
		t[name] = module{
			deps: d,
			init: func(context.Context) error {
				r.inits = append(r.inits, name)
				if name == r.fail {
					return errors.New(name + " failed")
				}
				return nil
			},
			stop: func() { r.stops = append(r.stops, name) },
		}
	}
	return t
}

func TestModulesOrder(t *testing.T) {
	t.Parallel()
	deps := map[string][]string{
		"data-dir": nil,
		"broker":   {"data-dir"},
		"bus":      {"broker"},
		"store":    {"data-dir"},
		"book":     {"store", "bus"},
		"api":      {"bus", "store", "book", "pricing"},
		"pricing":  {"bus"},
		"reports":  {"store"},
		"loop-a":   {"loop-b"},
		"loop-b":   {"loop-c"},
		"loop-c":   {"loop-a"},
		"self":     {"self"},
		"dangling": {"store", "nowhere"},
	}
	tests := []struct {
		name    string
		targets []string
		want    []string
		wantErr string
	}{
		{"one role", []string{"pricing"}, []string{"data-dir", "broker", "bus", "pricing"}, ""},
		{"dependencies first, in the order named", []string{"api"},
			[]string{"data-dir", "broker", "bus", "store", "book", "pricing", "api"}, ""},
		{"shared modules once", []string{"reports", "pricing", "api"},
			[]string{"data-dir", "store", "reports", "broker", "bus", "pricing", "book", "api"}, ""},
		{"a target named twice", []string{"bus", "bus"}, []string{"data-dir", "broker", "bus"}, ""},
		{"cycle", []string{"loop-a"}, nil, "module dependency cycle: loop-a -> loop-b -> loop-c -> loop-a"},
		{"cycle reached from elsewhere", []string{"store", "loop-b"}, nil, "cycle: loop-b -> loop-c -> loop-a -> loop-b"},
		{"self dependency", []string{"self"}, nil, "cycle: self -> self"},
		{"unknown target", []string{"store", "warehouse"}, nil, `unknown module "warehouse"`},
		{"unknown dependency", []string{"dangling"}, nil, `unknown module "nowhere" (a dependency of "dangling")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := modules{table: new(recorder).table(deps)}
			got, err := m.order(tt.targets...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("order(%v) = %v, %v; want an error mentioning %q", tt.targets, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("order(%v) = %v, %v; want %v", tt.targets, got, err, tt.want)
			}
		})
	}
}

func TestModulesInitOnceAndStopInReverse(t *testing.T) {
	t.Parallel()
	var r recorder
	m := modules{table: r.table(map[string][]string{
		"store":    nil,
		"bus":      nil,
		"search":   {"store"},
		"api":      {"store", "bus", "search"},
		"reviews":  {"bus", "search"},
		"reports":  {"store"},
		"isolated": nil,
	})}
	if err := m.init(context.Background(), "api", "reviews", "reports"); err != nil {
		t.Fatal(err)
	}
	// A later call builds only what is new.
	if err := m.init(context.Background(), "reviews", "isolated"); err != nil {
		t.Fatal(err)
	}
	wantInits := []string{"store", "bus", "search", "api", "reviews", "reports", "isolated"}
	if !slices.Equal(r.inits, wantInits) {
		t.Fatalf("inits = %v, want %v", r.inits, wantInits)
	}
	m.stop()
	wantStops := slices.Clone(wantInits)
	slices.Reverse(wantStops)
	if !slices.Equal(r.stops, wantStops) {
		t.Fatalf("stops = %v, want %v", r.stops, wantStops)
	}
	m.stop()
	if len(r.stops) != len(wantStops) {
		t.Fatalf("a second stop stopped again: %v", r.stops)
	}
}

// When an init fails, what was built before it is stopped; the failed
// module and those after it are not.
func TestModulesInitFailure(t *testing.T) {
	t.Parallel()
	r := recorder{fail: "search"}
	m := modules{table: r.table(map[string][]string{
		"store":  nil,
		"bus":    nil,
		"search": {"store"},
		"api":    {"store", "bus", "search"},
	})}
	err := m.init(context.Background(), "api")
	if err == nil || err.Error() != "search failed" {
		t.Fatalf("init = %v, want the failing module's own error", err)
	}
	if want := []string{"store", "bus", "search"}; !slices.Equal(r.inits, want) {
		t.Fatalf("inits = %v, want %v", r.inits, want)
	}
	m.stop()
	if want := []string{"bus", "store"}; !slices.Equal(r.stops, want) {
		t.Fatalf("stops = %v, want %v", r.stops, want)
	}
}

// An error in the table (a cycle, an unknown module) builds nothing.
func TestModulesInitRefusesABrokenTable(t *testing.T) {
	t.Parallel()
	var r recorder
	m := modules{table: r.table(map[string][]string{"store": nil, "a": {"store", "b"}, "b": {"a"}})}
	if err := m.init(context.Background(), "store", "a"); err == nil {
		t.Fatal("init of a cycle succeeded")
	}
	if err := m.init(context.Background(), "nowhere"); err == nil {
		t.Fatal("init of an unknown module succeeded")
	}
	if len(r.inits) != 0 {
		t.Fatalf("built %v before refusing the table", r.inits)
	}
}
