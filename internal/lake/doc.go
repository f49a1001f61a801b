// Package lake is Mercato's Parquet sales lake: the typed tables (sales
// lines, order events, payment events), their Hive-partitioned layout on
// disk (<root>/<table>/date=YYYY-MM-DD/part-*.parquet), atomic file writes,
// the lake-sink that fills it exactly once from the event log, and a
// synthetic generator for benchmarks and demos.
package lake
