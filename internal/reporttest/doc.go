// Package reporttest is the contract suite every report engine (DuckDB,
// Spark) must pass: the sales report over a small committed lake must match
// a plain Go computation over the same Parquet files, and a golden file.
package reporttest
