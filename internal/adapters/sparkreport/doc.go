// Package sparkreport is the cluster report engine: the sales report SQL of
// package reports run on a Spark cluster through Spark Connect
// (github.com/apache/spark-connect-go), for lakes too big for the embedded
// DuckDB engine (package duckreport) or lakes that live where only the
// cluster can read them (HDFS, S3).
//
// The report SQL is shared with DuckDB; the one dialect difference is the
// FROM item that reads a lake table, which SourceSQL builds: a Spark SQL
// direct file query over the table's directory,
//
//	parquet.`<lake>/<table>`
//
// Spark's partition discovery turns the Hive directories date=YYYY-MM-DD
// into a DATE column named date, and the report's
// WHERE date BETWEEN DATE 'from' AND DATE 'to' lets Spark prune the scan to
// the days asked for.
//
// Things to know when running it:
//
//   - The lake path is the path as the cluster sees it (Options.LakeURI);
//     this process never reads the lake itself.
//   - Spark lists every partition directory of a table when it plans a query
//     (pruning saves reading the files, not listing them), so planning time
//     grows with the lake's history.
//   - A table directory that does not exist at all fails the query
//     (PATH_NOT_FOUND); days without a partition simply count zero rows.
//   - Partition type inference (spark.sql.sources.partitionColumnTypeInference.enabled,
//     on by default) must stay on, or date becomes a STRING.
package sparkreport
