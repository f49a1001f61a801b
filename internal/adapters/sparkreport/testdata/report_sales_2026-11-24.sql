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
  CAST(SUM(ok) AS BIGINT) AS line_count,
  CAST(SUM(CASE WHEN ok = 1 THEN quantity ELSE 0 END) AS BIGINT) AS units,
  CAST(SUM(CASE WHEN ok = 1 THEN amount ELSE 0 END) AS BIGINT) AS revenue,
  CAST(SUM(CASE WHEN ok = 1 AND based = 1 THEN base_amount ELSE 0 END) AS BIGINT) AS base_revenue,
  MIN(CASE WHEN ok = 1 THEN category END) AS sku_category,
  CAST(SUM(CASE WHEN ok = 1 AND based = 1 THEN quantity ELSE 0 END) AS BIGINT) AS based_units,
  CAST(SUM(CASE WHEN ok = 1 AND based = 1 THEN amount ELSE 0 END) AS BIGINT) AS based_revenue,
  CAST(COUNT(*) - SUM(ok) AS BIGINT) AS rejected_lines
FROM (SELECT category, sku, event_hour, quantity, amount, base_amount,
    CASE WHEN quantity BETWEEN 1 AND 1000000000000 AND amount BETWEEN 0 AND 1000000000000 THEN 1 ELSE 0 END AS ok,
    CASE WHEN base_price > 0 AND base_amount <= 1000000000000 THEN 1 ELSE 0 END AS based
  FROM (SELECT category, sku, event_hour, quantity, base_price,
      CAST(quantity AS DECIMAL(38,0)) * CAST(unit_price AS DECIMAL(38,0)) AS amount,
      CAST(quantity AS DECIMAL(38,0)) * CAST(base_price AS DECIMAL(38,0)) AS base_amount
    FROM parquet.`/data/mercato/lake/sales`
    WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-24') priced) checked
GROUP BY GROUPING SETS ((), (category), (sku), (event_hour));

-- statement 5
SELECT event_type,
  CAST(SUM(CASE WHEN total BETWEEN 0 AND 1000000000000 THEN 1 ELSE 0 END) AS BIGINT) AS events,
  CAST(SUM(CASE WHEN total BETWEEN 0 AND 1000000000000 THEN CAST(total AS DECIMAL(38,0)) ELSE 0 END) AS BIGINT) AS amount,
  CAST(SUM(CASE WHEN total BETWEEN 0 AND 1000000000000 THEN 0 ELSE 1 END) AS BIGINT) AS rejected
FROM parquet.`/data/mercato/lake/orders`
WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-24'
GROUP BY event_type;

-- statement 6
SELECT event_type, reason,
  CAST(SUM(CASE WHEN amount BETWEEN 0 AND 1000000000000 THEN 1 ELSE 0 END) AS BIGINT) AS events,
  CAST(SUM(CASE WHEN amount BETWEEN 0 AND 1000000000000 THEN CAST(amount AS DECIMAL(38,0)) ELSE 0 END) AS BIGINT) AS amount,
  CAST(SUM(CASE WHEN amount BETWEEN 0 AND 1000000000000 THEN 0 ELSE 1 END) AS BIGINT) AS rejected
FROM parquet.`/data/mercato/lake/payments`
WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-24'
GROUP BY event_type, reason;
