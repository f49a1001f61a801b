package lake

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mercato-platform/mercato/internal/event"
)

// Table names: directories under the lake root.
const (
	TableSales    = "sales"    // one row per paid order line (commerce.purchases)
	TableOrders   = "orders"   // one row per order event (commerce.orders)
	TablePayments = "payments" // one row per payment event (commerce.payments)
)

// Tables lists every lake table.
var Tables = []string{TableSales, TableOrders, TablePayments}

// TopicTable maps the topics the sink reads to the table each fills.
var TopicTable = map[string]string{
	event.TopicPurchases: TableSales,
	event.TopicOrders:    TableOrders,
	event.TopicPayments:  TablePayments,
}

// Sale is a row of the sales table: one order line at the moment it was paid.
// Times are UTC; EventHour is the hour of day in the lake's time zone, the
// zone its date partitions are cut in.
type Sale struct {
	EventID   string    `parquet:"event_id"`
	OrderID   string    `parquet:"order_id"`
	SKU       string    `parquet:"sku,dict"`
	Category  string    `parquet:"category,dict"`
	Quantity  int64     `parquet:"quantity"`
	UnitPrice int64     `parquet:"unit_price"`
	BasePrice int64     `parquet:"base_price"`
	EventTime time.Time `parquet:"event_time,timestamp(microsecond)"`
	EventHour int32     `parquet:"event_hour"`
}

// Order is a row of the orders table: one order state change.
type Order struct {
	EventID    string    `parquet:"event_id"`
	EventType  string    `parquet:"event_type,dict"`
	OrderID    string    `parquet:"order_id"`
	CustomerID string    `parquet:"customer_id"`
	Status     string    `parquet:"status,dict"`
	Total      int64     `parquet:"total"`
	Lines      int32     `parquet:"lines"`
	Units      int64     `parquet:"units"`
	EventTime  time.Time `parquet:"event_time,timestamp(microsecond)"`
	EventHour  int32     `parquet:"event_hour"`
}

// Payment is a row of the payments table: one authorization, decline or refund.
type Payment struct {
	EventID   string    `parquet:"event_id"`
	EventType string    `parquet:"event_type,dict"`
	OrderID   string    `parquet:"order_id"`
	Amount    int64     `parquet:"amount"`
	Reason    string    `parquet:"reason,dict"`
	EventTime time.Time `parquet:"event_time,timestamp(microsecond)"`
	EventHour int32     `parquet:"event_hour"`
}

// Column is a table column as SQL engines see it.
type Column struct{ Name, Type string }

// Columns lists each table's columns with portable SQL types (DuckDB and
// Spark both accept them), without the date partition column.
var Columns = map[string][]Column{
	TableSales: {{"event_id", "STRING"}, {"order_id", "STRING"}, {"sku", "STRING"}, {"category", "STRING"},
		{"quantity", "BIGINT"}, {"unit_price", "BIGINT"}, {"base_price", "BIGINT"}, {"event_time", "TIMESTAMP"}, {"event_hour", "INT"}},
	TableOrders: {{"event_id", "STRING"}, {"event_type", "STRING"}, {"order_id", "STRING"}, {"customer_id", "STRING"},
		{"status", "STRING"}, {"total", "BIGINT"}, {"lines", "INT"}, {"units", "BIGINT"}, {"event_time", "TIMESTAMP"}, {"event_hour", "INT"}},
	TablePayments: {{"event_id", "STRING"}, {"event_type", "STRING"}, {"order_id", "STRING"}, {"amount", "BIGINT"},
		{"reason", "STRING"}, {"event_time", "TIMESTAMP"}, {"event_hour", "INT"}},
}

// ErrBadEvent marks an event whose data cannot become a lake row; the sink
// dead-letters it.
var ErrBadEvent = errors.New("event cannot be stored in the lake")

// Row is one event turned into its table's row, with the date partition it
// belongs to.
type Row struct {
	Table   string
	Date    string // YYYY-MM-DD in the lake's zone
	Sale    *Sale
	Order   *Order
	Payment *Payment
	EventID string
}

// RowOf turns an event from one of the lake's topics into its row. loc is
// the zone the lake cuts days in.
func RowOf(topic string, env event.Envelope, loc *time.Location) (Row, error) {
	table, ok := TopicTable[topic]
	if !ok {
		return Row{}, fmt.Errorf("%w: topic %s has no lake table", ErrBadEvent, topic)
	}
	at := env.Time.UTC().Truncate(time.Microsecond)
	local := at.In(loc)
	r := Row{Table: table, Date: local.Format(time.DateOnly), EventID: env.ID}
	hour := int32(local.Hour())
	switch table {
	case TableSales:
		if env.Type != event.TypePurchase {
			return Row{}, fmt.Errorf("%w: %s on %s is not a purchase", ErrBadEvent, env.Type, topic)
		}
		var d event.Purchase
		if err := decode(env, &d); err != nil {
			return Row{}, err
		}
		if d.SKU == "" || d.OrderID == "" || d.Quantity <= 0 || d.UnitPrice < 0 || d.BasePrice < 0 {
			return Row{}, fmt.Errorf("%w: purchase %s needs sku, order_id, quantity > 0 and prices >= 0", ErrBadEvent, env.ID)
		}
		r.Sale = &Sale{EventID: env.ID, OrderID: d.OrderID, SKU: d.SKU, Category: d.Category, Quantity: d.Quantity,
			UnitPrice: d.UnitPrice, BasePrice: d.BasePrice, EventTime: at, EventHour: hour}
	case TableOrders:
		var d event.Order
		if err := decode(env, &d); err != nil {
			return Row{}, err
		}
		if d.ID == "" {
			return Row{}, fmt.Errorf("%w: order event %s has no order id", ErrBadEvent, env.ID)
		}
		o := &Order{EventID: env.ID, EventType: env.Type, OrderID: d.ID, CustomerID: d.CustomerID, Status: d.Status,
			Total: d.Total, Lines: int32(min(len(d.Items), 1<<30)), EventTime: at, EventHour: hour}
		for _, it := range d.Items {
			o.Units += it.Quantity
		}
		r.Order = o
	case TablePayments:
		var d event.Payment
		if err := decode(env, &d); err != nil {
			return Row{}, err
		}
		if d.OrderID == "" {
			return Row{}, fmt.Errorf("%w: payment event %s has no order id", ErrBadEvent, env.ID)
		}
		r.Payment = &Payment{EventID: env.ID, EventType: env.Type, OrderID: d.OrderID, Amount: d.Amount,
			Reason: d.Reason, EventTime: at, EventHour: hour}
	}
	return r, nil
}

func decode(env event.Envelope, v any) error {
	if err := json.Unmarshal(env.Data, v); err != nil {
		return fmt.Errorf("%w: %s data: %v", ErrBadEvent, env.Type, err)
	}
	return nil
}
