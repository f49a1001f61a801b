package duckreport

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	// The DuckDB driver registers itself as "duckdb".
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/reports"
)

// Options tune the engine.
type Options struct {
	// Threads caps DuckDB's worker threads (0: one per core).
	Threads int
	// MemoryLimit caps DuckDB's memory, e.g. "4GB" ("" keeps DuckDB's
	// default of 80 % of RAM).
	MemoryLimit string
}

// Engine runs report SQL on an in-memory DuckDB over the lake at root.
type Engine struct {
	db   *sql.DB
	root string
}

// Open starts an in-memory DuckDB reading the lake under root.
func Open(root string, o Options) (*Engine, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("opening DuckDB: %w", err)
	}
	// One connection: settings are per connection, and DuckDB parallelises
	// each query itself.
	db.SetMaxOpenConns(1)
	var settings []string
	if o.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", o.Threads))
	}
	if o.MemoryLimit != "" {
		settings = append(settings, "SET memory_limit = "+quote(o.MemoryLimit))
	}
	for _, s := range settings {
		if _, err := db.Exec(s); err != nil {
			db.Close()
			return nil, fmt.Errorf("configuring DuckDB (%s): %w", s, err)
		}
	}
	return &Engine{db: db, root: root}, nil
}

// Name implements reports.Engine.
func (e *Engine) Name() string { return "duckdb" }

// Close releases DuckDB.
func (e *Engine) Close() error { return e.db.Close() }

// Source lists the table's files for days and reads exactly those, so a
// report never scans other days; days without files read as empty.
func (e *Engine) Source(_ context.Context, table string, days []string) (string, error) {
	if !slices.Contains(lake.Tables, table) {
		return "", fmt.Errorf("unknown lake table %q", table)
	}
	var paths []string
	for _, d := range days {
		files, err := lake.Files(e.root, table, d)
		if err != nil {
			return "", err
		}
		for _, f := range files {
			paths = append(paths, quote(f.Path))
		}
	}
	if len(paths) == 0 {
		return reports.EmptySource(table), nil
	}
	return "read_parquet([" + strings.Join(paths, ", ") + "], hive_partitioning = true, union_by_name = true)", nil
}

// Query implements reports.Engine.
func (e *Engine) Query(ctx context.Context, q string) ([][]any, error) {
	rows, err := e.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("duckdb: reading a row: %w", err)
		}
		for i, v := range vals {
			vals[i] = normalise(v)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	return out, nil
}

// normalise maps DuckDB's Go values onto the engine contract's types.
func normalise(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	case float32:
		return float64(x)
	case *big.Int:
		return x.Int64()
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC()
	}
	return v
}

// quote makes a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
