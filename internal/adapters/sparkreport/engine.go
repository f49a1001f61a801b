package sparkreport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/spark-connect-go/spark/client/channel"
	"github.com/apache/spark-connect-go/spark/sql"
	"google.golang.org/grpc"

	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/reports"
)

// Options say where the cluster is and where it finds the lake.
type Options struct {
	// Remote is the Spark Connect connection string, sc://host:15002
	// (parameters such as /;token=...;user_id=... are passed through).
	Remote string
	// LakeURI is the lake root as the Spark cluster sees it, e.g.
	// /data/mercato/lake, hdfs://nn:8020/mercato/lake or s3a://bucket/lake.
	LakeURI string
}

// ErrBadOptions is returned by Open for unusable Options.
var ErrBadOptions = errors.New("sparkreport: bad options")

// Engine runs report SQL on a Spark cluster. It implements reports.Engine.
// It is safe for concurrent use (each Query is its own Spark Connect call).
type Engine struct {
	session sql.SparkSession
	// conn is the gRPC connection under session. The session's Stop does
	// not close it (spark-connect-go's Stop is a no-op), so the engine
	// keeps it to close it itself.
	conn    *grpc.ClientConn
	lakeURI string

	closeOnce sync.Once
	closeErr  error
}

var _ reports.Engine = (*Engine)(nil)

// Open starts a Spark Connect session. The gRPC connection is made lazily:
// Open does not contact the server, an unreachable cluster fails the first
// Query.
func Open(ctx context.Context, o Options) (*Engine, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	remote := redactRemote(o.Remote)
	base, err := channel.NewBuilder(o.Remote)
	if err != nil {
		return nil, fmt.Errorf("%w: remote %s: %w", ErrBadOptions, remote, err)
	}
	cb := &connBuilder{Builder: base}
	// The session builder only uses its Remote string in error messages once
	// a channel builder is set: give it the redacted one so a token in the
	// connection string never reaches logs.
	s, err := sql.NewSessionBuilder().Remote(remote).WithChannelBuilder(cb).Build(ctx)
	if err != nil {
		if cb.conn != nil {
			_ = cb.conn.Close()
		}
		return nil, fmt.Errorf("sparkreport: starting a Spark Connect session on %s: %w", remote, err)
	}
	return &Engine{session: s, conn: cb.conn, lakeURI: o.LakeURI}, nil
}

func (o Options) validate() error {
	if !strings.HasPrefix(o.Remote, "sc://") {
		return fmt.Errorf("%w: remote %q must be a Spark Connect URL, sc://host:port", ErrBadOptions, redactRemote(o.Remote))
	}
	if strings.TrimSpace(o.LakeURI) == "" {
		return fmt.Errorf("%w: lake URI is empty (want the lake root as the Spark cluster sees it)", ErrBadOptions)
	}
	// The lake path goes inside a back-quoted identifier in every query.
	if strings.Contains(o.LakeURI, "`") {
		return fmt.Errorf("%w: lake URI %q contains a backtick, which cannot appear in a Spark SQL path", ErrBadOptions, o.LakeURI)
	}
	return nil
}

// redactRemote keeps a connection string's scheme, host and port and hides
// its parameters, which may hold a bearer token.
func redactRemote(remote string) string {
	if i := strings.Index(remote, "/;"); i >= 0 {
		return remote[:i] + "/;<params redacted>"
	}
	return remote
}

// connBuilder remembers the connection it built so Close can close it.
type connBuilder struct {
	channel.Builder
	conn *grpc.ClientConn
}

func (b *connBuilder) Build(ctx context.Context) (*grpc.ClientConn, error) {
	c, err := b.Builder.Build(ctx)
	if err != nil {
		return nil, err
	}
	b.conn = c
	return c, nil
}

// Name implements reports.Engine.
func (e *Engine) Name() string { return "spark" }

// Close ends the session and closes its connection. It is safe to call
// more than once.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		var errs []error
		if e.session != nil {
			if err := e.session.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stopping the session: %w", err))
			}
		}
		if e.conn != nil {
			if err := e.conn.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing the connection: %w", err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			e.closeErr = fmt.Errorf("sparkreport: closing: %w", err)
		}
	})
	return e.closeErr
}

// Source implements reports.Engine. Unlike DuckDB, which is handed the
// exact files of the days, Spark reads the whole table directory and
// prunes partitions on the report's date filter, so days is not needed:
// the lake is only visible to the cluster, and a day without a partition
// then reads as zero rows rather than a missing path.
func (e *Engine) Source(ctx context.Context, table string, days []string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("sparkreport: source of %s: %w", table, err)
	}
	if !slices.Contains(lake.Tables, table) {
		return "", fmt.Errorf("sparkreport: unknown lake table %q (want one of %s)", table, strings.Join(lake.Tables, ", "))
	}
	return SourceSQL(e.lakeURI, table), nil
}

// SourceSQL is the Spark SQL FROM item reading one lake table: a direct
// file query on <lakeURI>/<table> with partition discovery, so the rows
// carry the table's columns plus date (DATE) from the date=YYYY-MM-DD
// directories. It is the only place the Spark dialect differs from DuckDB's.
// Backticks are escaped (doubled) so the path cannot end the identifier;
// Open rejects them anyway.
func SourceSQL(lakeURI, table string) string {
	path := strings.TrimRight(lakeURI, "/") + "/" + table
	return "parquet.`" + strings.ReplaceAll(path, "`", "``") + "`"
}

// Query implements reports.Engine: it submits q and collects the result.
// spark-connect-go's Sql first sends q as a SQL command (Spark parses and
// analyses a SELECT there without running it) and Collect then executes
// the relation it returned, so each query is two round trips.
func (e *Engine) Query(ctx context.Context, q string) (rows [][]any, err error) {
	if e == nil || e.session == nil {
		return nil, errors.New("sparkreport: query on an engine that was not opened")
	}
	// spark-connect-go (at the pinned version) panics instead of returning
	// an error on some malformed or empty server answers: a result without
	// any Arrow batch (nil table) and an Arrow stream without a record
	// batch. Those are answers from the network, not programming errors in
	// this process, so they become errors here.
	defer func() {
		if r := recover(); r != nil {
			rows, err = nil, fmt.Errorf("sparkreport: Spark Connect client failed reading the result (no or malformed Arrow data?): %v", r)
		}
	}()
	df, err := e.session.Sql(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sparkreport: submitting query: %w", err)
	}
	res, err := df.Collect(ctx)
	if err != nil {
		return nil, fmt.Errorf("sparkreport: collecting query result: %w", err)
	}
	out := make([][]any, 0, len(res))
	for i, r := range res {
		vals, err := convertRow(r.Values())
		if err != nil {
			return nil, fmt.Errorf("sparkreport: result row %d: %w", i, err)
		}
		out = append(out, vals)
	}
	return out, nil
}

// convertRow maps the values spark-connect-go decodes from Arrow onto the
// reports.Engine contract: int64, float64, string, time.Time or nil. It
// returns a new slice and never panics.
func convertRow(vals []any) ([]any, error) {
	out := make([]any, len(vals))
	for i, v := range vals {
		c, err := convertValue(v)
		if err != nil {
			return nil, fmt.Errorf("column %d: %w", i, err)
		}
		out[i] = c
	}
	return out, nil
}

// convertValue converts one value. spark-connect-go hands over Arrow's Go
// values without their column type, which decides two cases:
//
//   - timestamps (arrow.Timestamp) are read as microseconds since the epoch
//     in UTC: Spark's TimestampType and TimestampNTZType are microsecond
//     types and Spark Connect sends them as such;
//   - decimals are refused, as their scale is lost; report SQL casts its
//     numbers to BIGINT or DOUBLE.
//
// Booleans become 1 or 0, like the integer flags the reports read.
func convertValue(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("unsigned value %d does not fit in int64", x)
		}
		return int64(x), nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case float16.Num:
		return float64(x.Float32()), nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case arrow.Timestamp:
		return time.UnixMicro(int64(x)).UTC(), nil
	case arrow.Date32:
		return x.ToTime(), nil
	case arrow.Date64:
		return x.ToTime(), nil
	case time.Time:
		return x.UTC(), nil
	case decimal128.Num, decimal256.Num:
		return nil, fmt.Errorf("DECIMAL value (its scale is not known here): cast it to BIGINT or DOUBLE in the SQL")
	}
	return nil, fmt.Errorf("unsupported value type %T (want numbers, strings, dates or timestamps)", v)
}
