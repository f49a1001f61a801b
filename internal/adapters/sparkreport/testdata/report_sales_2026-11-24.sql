-- SQL sent to Spark by reports.Build(ctx, engine, "2026-11-24", "2026-11-24", now)
-- with LakeURI /data/mercato/lake. Regenerate: go test ./internal/adapters/sparkreport/ -run TestReportSQL -update

-- statement 1
SELECT CAST(date AS STRING) AS day, CAST(COUNT(*) AS BIGINT) AS row_count
FROM parquet.`/data/mercato/lake/sales`
WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-24'
GROUP BY CAST(date AS STRING);

-- statement 2
SELECT CAST(date AS STRING) AS day, CAST(COUNT(*) AS BIGINT) AS row_count
FROM parquet.`/data/mercato/lake/orders`
WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-24'
GROUP BY CAST(date AS STRING);

-- statement 3
SELECT CAST(date AS STRING) AS day, CAST(COUNT(*) AS BIGINT) AS row_count
FROM parquet.`/data/mercato/lake/payments`
WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-24'
GROUP BY CAST(date AS STRING);

-- statement 4
SELECT GROUPING(category) AS g_category, GROUPING(sku) AS g_sku, GROUPING(event_hour) AS g_hour,
  category, sku, event_hour,
  CAST(COUNT(*) AS BIGINT) AS line_count,
  CAST(SUM(quantity) AS BIGINT) AS units,
  CAST(SUM(quantity * unit_price) AS BIGINT) AS revenue,
  CAST(SUM(CASE WHEN base_price > 0 THEN quantity * base_price ELSE 0 END) AS BIGINT) AS base_revenue,
  MIN(category) AS sku_category,
  CAST(SUM(CASE WHEN base_price > 0 THEN quantity ELSE 0 END) AS BIGINT) AS based_units,
  CAST(SUM(CASE WHEN base_price > 0 THEN quantity * unit_price ELSE 0 END) AS BIGINT) AS based_revenue
FROM parquet.`/data/mercato/lake/sales`
WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-24'
GROUP BY GROUPING SETS ((), (category), (sku), (event_hour));

-- statement 5
SELECT event_type, CAST(COUNT(*) AS BIGINT) AS events, CAST(SUM(total) AS BIGINT) AS amount
FROM parquet.`/data/mercato/lake/orders`
WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-24'
GROUP BY event_type;

-- statement 6
SELECT event_type, reason, CAST(COUNT(*) AS BIGINT) AS events, CAST(SUM(amount) AS BIGINT) AS amount
FROM parquet.`/data/mercato/lake/payments`
WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-24'
GROUP BY event_type, reason;
