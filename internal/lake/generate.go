package lake

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// GenerateOptions shape a synthetic lake.
type GenerateOptions struct {
	Root     string
	Lines    int64            // order lines in total, spread evenly over the days
	Days     int              // days ending with End
	End      string           // last day, YYYY-MM-DD (default: yesterday in Location)
	Now      func() time.Time // the clock End defaults from (time.Now when nil)
	SKUs     int              // catalog size (default 20,000)
	Seed     uint64           // same seed, same lake
	Location *time.Location
	// FileLines caps the sales rows per file (default 4,000,000).
	FileLines int
	// DeclineRate and CancelRate are the shares of orders whose payment
	// is declined and of paid orders cancelled the same day.
	DeclineRate, CancelRate float64
}

// GenerateStats says what Generate wrote.
type GenerateStats struct {
	Sales, Orders, Payments int64
	Files                   int
}

// categories of the synthetic catalog with their median price (KRW) and
// price spread (sigma of the log-normal).
var categories = []struct {
	name   string
	median float64
	sigma  float64
	weight float64
}{
	{"fashion", 29000, 0.6, 16}, {"beauty", 18000, 0.5, 11}, {"grocery", 9000, 0.5, 20},
	{"electronics", 89000, 0.9, 8}, {"home", 25000, 0.7, 9}, {"kitchen", 19000, 0.6, 7},
	{"sports", 35000, 0.7, 6}, {"books", 15000, 0.3, 5}, {"toys", 22000, 0.5, 4},
	{"pets", 21000, 0.5, 5}, {"baby", 27000, 0.5, 4}, {"health", 24000, 0.5, 5},
}

// hourWeights is a Korean shop's day: quiet at night, a late-morning bump,
// the peak after dinner.
var hourWeights = [24]float64{3, 1.6, 0.9, 0.6, 0.5, 0.6, 1.1, 2.2, 3.4, 4.6, 5.6, 5.9,
	5.5, 5.2, 5.0, 4.9, 5.0, 5.3, 5.6, 6.3, 7.4, 8.2, 7.6, 5.4}

type genSKU struct {
	sku, category string
	base          int64
}

// Generate writes a synthetic lake: a catalog with Zipf popularity,
// log-normal prices by category, a daily traffic curve, dynamic prices
// around the base price, 1-6 lines per order, declined payments and
// same-day cancellations with refunds. Files are named part-gen-*.parquet
// (the sink never reads them as offset ranges).
func Generate(ctx context.Context, o GenerateOptions) (GenerateStats, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Days <= 0 || o.Lines <= 0 {
		return GenerateStats{}, fmt.Errorf("generate needs rows > 0 and days > 0")
	}
	if o.SKUs <= 0 {
		o.SKUs = 20_000
	}
	if o.FileLines <= 0 {
		o.FileLines = 4_000_000
	}
	if o.DeclineRate == 0 {
		o.DeclineRate = 0.03
	}
	if o.CancelRate == 0 {
		o.CancelRate = 0.015
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	end := o.Now().In(o.Location).AddDate(0, 0, -1)
	if o.End != "" {
		t, err := time.ParseInLocation(time.DateOnly, o.End, o.Location)
		if err != nil {
			return GenerateStats{}, fmt.Errorf("end date %q: want YYYY-MM-DD", o.End)
		}
		end = t
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	catalog := make([]genSKU, o.SKUs)
	var total float64
	for _, c := range categories {
		total += c.weight
	}
	for i := range catalog {
		x := rng.Float64() * total
		c := categories[0]
		for _, cc := range categories {
			if x < cc.weight {
				c = cc
				break
			}
			x -= cc.weight
		}
		price := c.median * math.Exp(c.sigma*rng.NormFloat64())
		catalog[i] = genSKU{sku: fmt.Sprintf("SKU-%06d", i+1), category: c.name, base: max(100, int64(price/100)*100)}
	}
	// Zipf over catalog ranks: a few SKUs sell most.
	zipf := rand.NewZipf(rand.New(rand.NewPCG(o.Seed+1, o.Seed+2)), 1.07, 8, uint64(o.SKUs-1))
	var hourCDF [24]float64
	var acc float64
	for h, w := range hourWeights {
		acc += w
		hourCDF[h] = acc
	}

	if err := WriteSchemaAnchors(o.Root); err != nil {
		return GenerateStats{}, err
	}
	var st GenerateStats
	perDay := o.Lines / int64(o.Days)
	var seq uint64
	id := func(prefix byte) string {
		seq++
		b := make([]byte, 0, 20)
		b = append(b, prefix, '_')
		b = strconv.AppendUint(b, o.Seed, 36)
		b = append(b, '_')
		return string(strconv.AppendUint(b, seq, 36))
	}
	for d := o.Days - 1; d >= 0; d-- {
		day := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, o.Location).AddDate(0, 0, -d)
		date := day.Format(time.DateOnly)
		lines := perDay
		if d == 0 {
			lines = o.Lines - perDay*int64(o.Days-1)
		}
		var sales []Sale
		var orders []Order
		var pays []Payment
		part := 0
		flush := func(final bool) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(sales) < o.FileLines && !final {
				return nil
			}
			part++
			name := fmt.Sprintf("part-gen-%05d.parquet", part)
			if len(sales) > 0 {
				if err := WriteFile(filepath.Join(DateDir(o.Root, TableSales, date), name), sales); err != nil {
					return err
				}
				st.Files++
			}
			if len(orders) > 0 {
				if err := WriteFile(filepath.Join(DateDir(o.Root, TableOrders, date), name), orders); err != nil {
					return err
				}
				st.Files++
			}
			if len(pays) > 0 {
				if err := WriteFile(filepath.Join(DateDir(o.Root, TablePayments, date), name), pays); err != nil {
					return err
				}
				st.Files++
			}
			st.Sales += int64(len(sales))
			st.Orders += int64(len(orders))
			st.Payments += int64(len(pays))
			sales, orders, pays = sales[:0], orders[:0], pays[:0]
			return nil
		}
		for written := int64(0); written < lines; {
			x := rng.Float64() * acc
			h := 0
			for h < 23 && x >= hourCDF[h] {
				h++
			}
			at := day.Add(time.Duration(h)*time.Hour + time.Duration(rng.Int64N(int64(time.Hour)))).UTC().Truncate(time.Microsecond)
			n := int64(1)
			for n < 6 && rng.Float64() < 0.38 {
				n++
			}
			n = min(n, lines-written)
			orderID, customer := id('o'), "cus_"+strconv.FormatInt(rng.Int64N(2_000_000), 36)
			var tot, units int64
			declined := rng.Float64() < o.DeclineRate
			var picked [6]int
			for k := range n {
				i := int(zipf.Uint64())
				for slices.Contains(picked[:k], i) {
					i = (i + 1) % len(catalog)
				}
				picked[k] = i
				s := catalog[i]
				qty := int64(1)
				if r := rng.Float64(); r < 0.12 {
					qty = 2
				} else if r < 0.16 {
					qty = 3 + rng.Int64N(3)
				}
				unit := int64(float64(s.base)*(0.92+0.2*rng.Float64())/10) * 10
				tot += qty * unit
				units += qty
				if !declined {
					sales = append(sales, Sale{EventID: id('e'), OrderID: orderID, SKU: s.sku, Category: s.category,
						Quantity: qty, UnitPrice: unit, BasePrice: s.base, EventTime: at, EventHour: int32(h)})
				}
			}
			hour := int32(h)
			orders = append(orders, Order{EventID: id('e'), EventType: "order.created", OrderID: orderID, CustomerID: customer,
				Status: "reserved", Total: tot, Lines: int32(n), Units: units, EventTime: at, EventHour: hour})
			if declined {
				orders = append(orders, Order{EventID: id('e'), EventType: "order.payment_failed", OrderID: orderID, CustomerID: customer,
					Status: "payment_failed", Total: tot, Lines: int32(n), Units: units, EventTime: at, EventHour: hour})
				pays = append(pays, Payment{EventID: id('e'), EventType: "payment.declined", OrderID: orderID, Amount: tot,
					Reason: "declined", EventTime: at, EventHour: hour})
				continue
			}
			written += n
			orders = append(orders, Order{EventID: id('e'), EventType: "order.paid", OrderID: orderID, CustomerID: customer,
				Status: "paid", Total: tot, Lines: int32(n), Units: units, EventTime: at, EventHour: hour})
			pays = append(pays, Payment{EventID: id('e'), EventType: "payment.authorized", OrderID: orderID, Amount: tot, EventTime: at, EventHour: hour})
			if rng.Float64() < o.CancelRate {
				later := at.Add(time.Duration(rng.Int64N(int64(30 * time.Minute))))
				if later.In(o.Location).Format(time.DateOnly) == date {
					lh := int32(later.In(o.Location).Hour())
					orders = append(orders, Order{EventID: id('e'), EventType: "order.cancelled", OrderID: orderID, CustomerID: customer,
						Status: "cancelled", Total: tot, Lines: int32(n), Units: units, EventTime: later, EventHour: lh})
					pays = append(pays, Payment{EventID: id('e'), EventType: "payment.refunded", OrderID: orderID, Amount: tot, EventTime: later, EventHour: lh})
				}
			}
			if err := flush(false); err != nil {
				return st, err
			}
		}
		if err := flush(true); err != nil {
			return st, err
		}
	}
	return st, nil
}
