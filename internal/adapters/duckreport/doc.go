// Package duckreport is the embedded report engine: DuckDB (duckdb-go, in
// process) reading the Parquet lake with read_parquet and Hive partitioning.
package duckreport
