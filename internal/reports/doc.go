// Package reports builds Mercato's batch sales reports: a report is named
// SQL over the Parquet lake plus a date range, run on a report Engine
// (DuckDB embedded, Spark at scale), stored with its run record, rendered as
// JSON, CSV and HTML with charts, and scheduled by a cron-driven Scheduler
// that catches up missed days and re-runs days whose lake data changed.
package reports
