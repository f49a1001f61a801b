package sparkreport

// An in-process fake Spark Connect server, so the engine runs end to end
// through the real spark-connect-go client (session builder, gRPC channel,
// ExecutePlan streams, Arrow IPC decoding) without a Spark cluster.
//
// spark-connect-go's generated protobuf/gRPC code lives in its
// internal/generated package, which Go forbids importing from outside the
// module, so the generated SparkConnectService server interface is not
// available. The fake therefore registers no typed service: it answers every
// method through grpc.UnknownServiceHandler, and gets the request and
// response message types from the global protobuf registry
// (protoregistry.GlobalTypes), where the generated package registers them
// when it is linked in (it is: spark-connect-go/spark/sql imports it). The
// messages are read and written through protojson, so the fake depends only
// on the protocol's field names, not on the generated Go types.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/mercato-platform/mercato/internal/lake"
	"github.com/mercato-platform/mercato/internal/reports"
)

const executePlanMethod = "/spark.connect.SparkConnectService/ExecutePlan"

// answerFunc answers a collected SQL relation with one Arrow record; a nil
// record sends no Arrow batch at all, an error becomes a gRPC error.
type answerFunc func(sql string) (arrow.RecordBatch, error)

// fakeSpark records what the client sends and answers from answer.
type fakeSpark struct {
	answer answerFunc

	mu sync.Mutex // guards the fields below
	// rawBatch, when set, replaces the Arrow IPC bytes of every answer.
	rawBatch []byte
	commands []string // SQL of SqlCommand plans (session.Sql), in order
	roots    []string // SQL of root SQL relations (DataFrame.Collect), in order
	sessions map[string]bool
	planIDs  map[string]bool
	errs     []string // protocol violations the fake saw
}

// startFakeSpark serves a fakeSpark on 127.0.0.1 and returns its sc:// URL.
func startFakeSpark(t *testing.T, answer answerFunc) (*fakeSpark, string) {
	t.Helper()
	f := &fakeSpark{answer: answer, sessions: map[string]bool{}, planIDs: map[string]bool{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(f.handle))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return f, "sc://" + lis.Addr().String()
}

// Protocol shapes read from the request's protojson form.
type executePlanRequest struct {
	SessionID   string `json:"sessionId"`
	OperationID string `json:"operationId"`
	Plan        struct {
		Command *struct {
			SQLCommand *struct {
				SQL string `json:"sql"`
			} `json:"sqlCommand"`
		} `json:"command"`
		Root *struct {
			Common struct {
				PlanID string `json:"planId"` // int64: a JSON string
			} `json:"common"`
			SQL *struct {
				Query string `json:"query"`
			} `json:"sql"`
		} `json:"root"`
	} `json:"plan"`
}

func newMessage(name string) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("fake spark: %s is not registered: %w", name, err)
	}
	return mt.New().Interface(), nil
}

func (f *fakeSpark) setRawBatch(b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rawBatch = b
}

func (f *fakeSpark) violation(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeSpark) handle(_ any, stream grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(stream)
	if method != executePlanMethod {
		f.violation("unexpected RPC %s", method)
		return status.Errorf(codes.Unimplemented, "fake spark: %s not implemented", method)
	}
	req, err := newMessage("spark.connect.ExecutePlanRequest")
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	if err := stream.RecvMsg(req); err != nil {
		return err
	}
	js, err := protojson.Marshal(req)
	if err != nil {
		return status.Errorf(codes.Internal, "fake spark: %v", err)
	}
	var r executePlanRequest
	if err := json.Unmarshal(js, &r); err != nil {
		return status.Errorf(codes.Internal, "fake spark: %v", err)
	}
	if r.SessionID == "" || r.OperationID == "" {
		f.violation("request without session or operation id: %s", js)
	}
	f.mu.Lock()
	f.sessions[r.SessionID] = true
	f.mu.Unlock()

	send := func(body string) error {
		m, err := newMessage("spark.connect.ExecutePlanResponse")
		if err != nil {
			return err
		}
		head, _ := json.Marshal(map[string]string{"sessionId": r.SessionID, "operationId": r.OperationID})
		full := strings.TrimSuffix(string(head), "}") + "," + body + "}"
		if err := protojson.Unmarshal([]byte(full), m); err != nil {
			return fmt.Errorf("fake spark: building response %s: %w", full, err)
		}
		return stream.SendMsg(m)
	}

	switch {
	case r.Plan.Command != nil && r.Plan.Command.SQLCommand != nil:
		// session.Sql: answer like Spark does for a query, with the SQL
		// relation for the client to collect.
		q := r.Plan.Command.SQLCommand.SQL
		f.mu.Lock()
		f.commands = append(f.commands, q)
		f.mu.Unlock()
		rel, _ := json.Marshal(map[string]any{"relation": map[string]any{"sql": map[string]string{"query": q}}})
		if err := send(`"sqlCommandResult":` + string(rel)); err != nil {
			return err
		}
		return send(`"resultComplete":{}`)

	case r.Plan.Root != nil && r.Plan.Root.SQL != nil:
		q := r.Plan.Root.SQL.Query
		f.mu.Lock()
		f.roots = append(f.roots, q)
		if f.planIDs[r.Plan.Root.Common.PlanID] {
			f.errs = append(f.errs, "plan id reused: "+r.Plan.Root.Common.PlanID)
		}
		f.planIDs[r.Plan.Root.Common.PlanID] = true
		f.mu.Unlock()
		rec, err := f.answer(q)
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		if rec != nil {
			data, err := ipcBytes(rec)
			if err != nil {
				return status.Error(codes.Internal, err.Error())
			}
			f.mu.Lock()
			if f.rawBatch != nil {
				data = f.rawBatch
			}
			f.mu.Unlock()
			batch, _ := json.Marshal(map[string]any{"rowCount": rec.NumRows(), "data": data})
			if err := send(`"arrowBatch":` + string(batch)); err != nil {
				return err
			}
		}
		return send(`"resultComplete":{}`)
	}
	f.violation("unsupported plan: %s", js)
	return status.Errorf(codes.Unimplemented, "fake spark: unsupported plan %s", js)
}

// ipcBytes encodes rec as the Arrow IPC stream Spark Connect carries in an
// ArrowBatch.
func ipcBytes(rec arrow.RecordBatch) ([]byte, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("fake spark: writing Arrow: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("fake spark: closing Arrow stream: %w", err)
	}
	return buf.Bytes(), nil
}

// makeRecord builds an Arrow record from rows of Go values (nil is NULL).
// It runs on the fake server's goroutines too, so it reports bad test data
// with t.Errorf (not Fatalf) and returns nil.
func makeRecord(t *testing.T, schema *arrow.Schema, rows ...[]any) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, row := range rows {
		if len(row) != len(schema.Fields()) {
			t.Errorf("row %v has %d values, schema %d fields", row, len(row), len(schema.Fields()))
			return nil
		}
		for i, v := range row {
			fb := b.Field(i)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int8Builder:
				fb.Append(int8(v.(int)))
			case *array.Int16Builder:
				fb.Append(int16(v.(int)))
			case *array.Int32Builder:
				fb.Append(int32(v.(int)))
			case *array.Int64Builder:
				fb.Append(int64(v.(int)))
			case *array.Float32Builder:
				fb.Append(v.(float32))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			case *array.BooleanBuilder:
				fb.Append(v.(bool))
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.Date32Builder:
				fb.Append(arrow.Date32FromTime(v.(time.Time)))
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
			case *array.Decimal128Builder:
				fb.Append(decimal128.FromI64(int64(v.(int))))
			default:
				t.Errorf("makeRecord: no support for %T", fb)
				return nil
			}
		}
	}
	return b.NewRecordBatch()
}

func fields(spec ...any) *arrow.Schema {
	var fs []arrow.Field
	for i := 0; i < len(spec); i += 2 {
		fs = append(fs, arrow.Field{Name: spec[i].(string), Type: spec[i+1].(arrow.DataType), Nullable: true})
	}
	return arrow.NewSchema(fs, nil)
}

var (
	i8       = arrow.PrimitiveTypes.Int8
	i32      = arrow.PrimitiveTypes.Int32
	i64      = arrow.PrimitiveTypes.Int64
	str      = arrow.BinaryTypes.String
	inputs   = fields("day", str, "row_count", i64)
	byType   = fields("event_type", str, "events", i64, "amount", i64, "rejected", i64)
	byReason = fields("event_type", str, "reason", str, "events", i64, "amount", i64, "rejected", i64)
	// The sales query's columns with the types Spark gives them: GROUPING
	// is a TINYINT, event_hour an INT.
	salesCols = fields("g_category", i8, "g_sku", i8, "g_hour", i8, "category", str, "sku", str, "event_hour", i32,
		"line_count", i64, "units", i64, "revenue", i64, "base_revenue", i64, "sku_category", str,
		"based_units", i64, "based_revenue", i64, "rejected_lines", i64)
)

// dayAnswers answers the report's queries for 2026-11-24 like Spark would
// over a small lake, telling the statements apart by their FROM item.
func dayAnswers(t *testing.T) answerFunc {
	from := func(table string) string { return "FROM " + SourceSQL(testLake, table) + "\n" }
	return func(q string) (arrow.RecordBatch, error) {
		switch {
		case strings.HasPrefix(q, "SELECT CAST(date AS STRING) AS day"):
			counts := map[string]int{lake.TableSales: 5, lake.TableOrders: 4, lake.TablePayments: 3}
			for table, n := range counts {
				if strings.Contains(q, from(table)) {
					return makeRecord(t, inputs, []any{"2026-11-24", n}), nil
				}
			}
		case strings.HasPrefix(q, "SELECT GROUPING(category)") && strings.Contains(q, from(lake.TableSales)):
			return makeRecord(t, salesCols,
				// One toys line at 14:00 was out of bounds, the only line of
				// SKU X-1, so the report leaves X-1 out of its SKUs.
				[]any{1, 1, 1, nil, nil, nil, 5, 7, 70000, 80000, "books", 7, 70000, 1},
				[]any{0, 1, 1, "books", nil, nil, 3, 4, 40000, 44000, "books", 4, 40000, 0},
				[]any{0, 1, 1, "toys", nil, nil, 2, 3, 30000, 36000, "toys", 3, 30000, 1},
				[]any{1, 0, 1, nil, "B-1", nil, 3, 4, 40000, 44000, "books", 4, 40000, 0},
				[]any{1, 0, 1, nil, "T-1", nil, 2, 3, 30000, 36000, "toys", 3, 30000, 0},
				[]any{1, 0, 1, nil, "X-1", nil, 0, 0, 0, 0, nil, 0, 0, 1},
				[]any{1, 1, 0, nil, nil, 9, 3, 4, 40000, 44000, "books", 4, 40000, 0},
				[]any{1, 1, 0, nil, nil, 14, 2, 3, 30000, 36000, "toys", 3, 30000, 1},
			), nil
		case strings.Contains(q, from(lake.TableOrders)):
			return makeRecord(t, byType,
				[]any{"order.created", 3, 75000, 0}, []any{"order.paid", 2, 70000, 1}, []any{"order.cancelled", 1, 5000, 0}), nil
		case strings.Contains(q, from(lake.TablePayments)):
			return makeRecord(t, byReason,
				[]any{"payment.authorized", "", 2, 70000, 1}, []any{"payment.declined", "declined", 1, 9000, 0}, []any{"payment.refunded", "", 1, 10000, 0}), nil
		}
		return nil, fmt.Errorf("[TABLE_OR_VIEW_NOT_FOUND] fake spark has no answer for: %s", q)
	}
}

func openFake(t *testing.T, remote string) *Engine {
	t.Helper()
	e, err := Open(context.Background(), Options{Remote: remote, LakeURI: testLake})
	if err != nil {
		t.Fatalf("Open(%s): %v", remote, err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestBuildThroughSparkConnect runs the whole sales report through the real
// Spark Connect client against the fake server, and checks both what
// reached the server and the report parsed from its Arrow answers.
func TestBuildThroughSparkConnect(t *testing.T) {
	f, remote := startFakeSpark(t, dayAnswers(t))
	e := openFake(t, remote)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Date(2026, 11, 25, 3, 0, 0, 500, time.UTC)

	got, err := reports.Build(ctx, e, "2026-11-24", "2026-11-24", now)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}

	f.mu.Lock()
	commands, roots, sessions, violations := f.commands, f.roots, len(f.sessions), f.errs
	f.mu.Unlock()
	if len(violations) > 0 {
		t.Errorf("protocol violations: %v", violations)
	}
	if sessions != 1 {
		t.Errorf("requests came from %d sessions, want 1", sessions)
	}
	// Each query is submitted as a SQL command, then its relation collected.
	if !reflect.DeepEqual(commands, roots) {
		t.Errorf("collected relations differ from submitted SQL:\ncommands %q\nroots %q", commands, roots)
	}
	// The exact statements on the wire are the golden ones.
	checkGoldenReadOnly(t, commands)

	want := reports.SalesReport{
		Report: reports.SalesReportName, From: "2026-11-24", To: "2026-11-24", Currency: "KRW", Engine: "spark",
		GeneratedAt: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC),
		Summary: reports.Summary{
			Orders: 2, Lines: 5, Units: 7, GrossRevenue: 70000, NetRevenue: 60000, AverageOrderValue: 35000,
			PaymentsAuthorized: 2, PaymentsDeclined: 1, PaymentFailureRate: 0.3333,
			Cancellations: 1, CancelledAmount: 5000, Refunds: 1, RefundedAmount: 10000,
			RejectedLines: 1, RejectedEvents: 2,
		},
		ByCategory: []reports.CategorySales{
			{Category: "books", Units: 4, Revenue: 40000, RevenueShare: 0.5714},
			{Category: "toys", Units: 3, Revenue: 30000, RevenueShare: 0.4286},
		},
		TopSKUs: []reports.SKUSales{
			{Rank: 1, SKU: "B-1", Category: "books", Units: 4, Revenue: 40000, AvgPrice: 10000, AvgBasePrice: 11000, PriceIndex: 0.9091},
			{Rank: 2, SKU: "T-1", Category: "toys", Units: 3, Revenue: 30000, AvgPrice: 10000, AvgBasePrice: 12000, PriceIndex: 0.8333},
		},
		Inputs: []reports.Input{
			{Table: lake.TableOrders, Date: "2026-11-24", Rows: 4},
			{Table: lake.TablePayments, Date: "2026-11-24", Rows: 3},
			{Table: lake.TableSales, Date: "2026-11-24", Rows: 5},
		},
	}
	want.Hourly = make([]reports.HourSales, 24)
	for h := range want.Hourly {
		want.Hourly[h].Hour = h
	}
	want.Hourly[9] = reports.HourSales{Hour: 9, Units: 4, Revenue: 40000}
	want.Hourly[14] = reports.HourSales{Hour: 14, Units: 3, Revenue: 30000}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", "  ")
		wj, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("report differs:\n--- got\n%s\n--- want\n%s", gj, wj)
	}
}

// checkGoldenReadOnly compares with the golden file TestReportSQL owns.
func checkGoldenReadOnly(t *testing.T, stmts []string) {
	t.Helper()
	if *update {
		return // TestReportSQL rewrites it; compare on the next run
	}
	checkGolden(t, stmts)
}

// TestQueryValueTypes checks the Arrow types Spark sends come out of Query
// as the engine contract's Go types.
func TestQueryValueTypes(t *testing.T) {
	ts := time.Date(2026, 11, 24, 0, 30, 0, 250000000, time.UTC)
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	schema := fields("b", i8, "s", arrow.PrimitiveTypes.Int16, "i", i32, "l", i64,
		"f", arrow.PrimitiveTypes.Float32, "d", arrow.PrimitiveTypes.Float64, "flag", arrow.FixedWidthTypes.Boolean,
		"txt", str, "day", arrow.FixedWidthTypes.Date32, "at", arrow.FixedWidthTypes.Timestamp_us, "none", str)
	_, remote := startFakeSpark(t, func(string) (arrow.RecordBatch, error) {
		return makeRecord(t, schema,
			[]any{1, 2, 3, 4, float32(0.5), 1.25, true, "x", day, ts, nil},
			[]any{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		), nil
	})
	e := openFake(t, remote)
	rows, err := e.Query(context.Background(), "SELECT * FROM types")
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	want := [][]any{
		{int64(1), int64(2), int64(3), int64(4), 0.5, 1.25, int64(1), "x", day, ts, nil},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Query rows:\n got %#v\nwant %#v", rows, want)
	}
}

func TestQueryEmptyResult(t *testing.T) {
	// Spark sends a batch without rows (but with the schema) for an empty result.
	_, remote := startFakeSpark(t, func(string) (arrow.RecordBatch, error) { return makeRecord(t, byType), nil })
	rows, err := openFake(t, remote).Query(context.Background(), "SELECT 1 WHERE false")
	if err != nil || len(rows) != 0 {
		t.Errorf("Query = %v, %v; want no rows and no error", rows, err)
	}
}

func TestQueryServerError(t *testing.T) {
	_, remote := startFakeSpark(t, func(q string) (arrow.RecordBatch, error) {
		return nil, errors.New("[PATH_NOT_FOUND] Path does not exist: /data/mercato/lake/sales")
	})
	e := openFake(t, remote)
	_, err := e.Query(context.Background(), "SELECT 1")
	if err == nil || !strings.Contains(err.Error(), "PATH_NOT_FOUND") || !strings.Contains(err.Error(), "sparkreport: collecting") {
		t.Errorf("Query error = %v, want the server's error wrapped", err)
	}
	if _, err := reports.Build(context.Background(), e, "2026-11-24", "2026-11-24", time.Now()); err == nil ||
		!strings.Contains(err.Error(), "counting sales rows") {
		t.Errorf("Build error = %v, want it to name the failing step", err)
	}
}

// TestQueryMalformedAnswers feeds the answers on which spark-connect-go
// panics; Query must turn them into errors.
func TestQueryMalformedAnswers(t *testing.T) {
	t.Run("no arrow batch", func(t *testing.T) {
		_, remote := startFakeSpark(t, func(string) (arrow.RecordBatch, error) { return nil, nil })
		_, err := openFake(t, remote).Query(context.Background(), "SELECT 1")
		if err == nil {
			t.Fatal("Query succeeded on a result without Arrow data")
		}
		t.Logf("error: %v", err)
	})
	t.Run("arrow stream without a batch", func(t *testing.T) {
		f, remote := startFakeSpark(t, func(string) (arrow.RecordBatch, error) { return makeRecord(t, byType), nil })
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(byType))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.setRawBatch(buf.Bytes())
		_, err := openFake(t, remote).Query(context.Background(), "SELECT 1")
		if err == nil {
			t.Fatal("Query succeeded on an Arrow stream without a record batch")
		}
		t.Logf("error: %v", err)
	})
	t.Run("garbage", func(t *testing.T) {
		f, remote := startFakeSpark(t, func(string) (arrow.RecordBatch, error) { return makeRecord(t, byType), nil })
		f.setRawBatch([]byte("not arrow"))
		_, err := openFake(t, remote).Query(context.Background(), "SELECT 1")
		if err == nil {
			t.Fatal("Query succeeded on bytes that are not Arrow")
		}
		t.Logf("error: %v", err)
	})
	t.Run("decimal column", func(t *testing.T) {
		dec := fields("amount", &arrow.Decimal128Type{Precision: 20, Scale: 2})
		_, remote := startFakeSpark(t, func(string) (arrow.RecordBatch, error) { return makeRecord(t, dec, []any{12345}), nil })
		_, err := openFake(t, remote).Query(context.Background(), "SELECT amount")
		if err == nil || !strings.Contains(err.Error(), "DECIMAL") {
			t.Errorf("Query error = %v, want a DECIMAL error", err)
		}
	})
}

func TestQueryUnreachable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there any more
	e := openFake(t, "sc://"+addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = e.Query(ctx, "SELECT 1")
	if err == nil || !strings.Contains(err.Error(), "sparkreport: submitting query") {
		t.Errorf("Query error = %v, want a wrapped connection error", err)
	}
	t.Logf("error: %v", err)
}

func TestQueryAfterClose(t *testing.T) {
	_, remote := startFakeSpark(t, dayAnswers(t))
	e := openFake(t, remote)
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := e.Query(context.Background(), "SELECT 1"); err == nil {
		t.Error("Query after Close succeeded")
	}
}

func TestQueryCancelled(t *testing.T) {
	_, remote := startFakeSpark(t, dayAnswers(t))
	e := openFake(t, remote)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Query(ctx, "SELECT 1"); err == nil {
		t.Error("Query with a cancelled context succeeded")
	}
}

// TestConcurrentBuilds backs the claim that an Engine may be shared: the
// scheduler and an HTTP trigger can run reports at the same time.
func TestConcurrentBuilds(t *testing.T) {
	_, remote := startFakeSpark(t, dayAnswers(t))
	e := openFake(t, remote)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			r, err := reports.Build(context.Background(), e, "2026-11-24", "2026-11-24", time.Now())
			if err == nil && r.Summary.GrossRevenue != 70000 {
				err = fmt.Errorf("gross revenue %d, want 70000", r.Summary.GrossRevenue)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
