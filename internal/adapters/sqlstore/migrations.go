package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// migrations are applied in order, each once, each in its own transaction.
// Never edit a released one: append a new version.
var migrations = []string{
	// 1: catalogue, inventory ledger, outbox, idempotency keys.
	`
CREATE TABLE products (
  sku                 TEXT PRIMARY KEY,
  name                TEXT NOT NULL,
  category            TEXT NOT NULL,
  base_price          BIGINT NOT NULL,
  price_floor         BIGINT NOT NULL,
  price_ceiling       BIGINT NOT NULL,
  low_stock_threshold BIGINT NOT NULL,
  reorder             TEXT NOT NULL,
  version             BIGINT NOT NULL,
  created_at          BIGINT NOT NULL,
  updated_at          BIGINT NOT NULL
);
CREATE INDEX products_category_sku ON products (category, sku);

CREATE TABLE inventory (
  sku        TEXT PRIMARY KEY REFERENCES products (sku),
  on_hand    BIGINT NOT NULL,
  reserved   BIGINT NOT NULL DEFAULT 0,
  on_order   BIGINT NOT NULL DEFAULT 0,
  version    BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  CHECK (reserved >= 0),
  CHECK (on_hand >= reserved)
);

CREATE TABLE inventory_ledger (
  id             {{serial}},
  sku            TEXT NOT NULL,
  kind           TEXT NOT NULL,
  on_hand_delta  BIGINT NOT NULL,
  reserved_delta BIGINT NOT NULL,
  reason         TEXT NOT NULL,
  ref            TEXT NOT NULL DEFAULT '',
  at             BIGINT NOT NULL
);
CREATE INDEX inventory_ledger_sku ON inventory_ledger (sku, id);

CREATE TABLE outbox (
  id         {{serial}},
  event_id   TEXT NOT NULL UNIQUE,
  topic      TEXT NOT NULL,
  msg_key    TEXT NOT NULL,
  event_type TEXT NOT NULL,
  payload    {{blob}} NOT NULL,
  created_at BIGINT NOT NULL,
  sent_at    BIGINT
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE idempotency_keys (
  scope           TEXT NOT NULL,
  key             TEXT NOT NULL,
  request_hash    TEXT NOT NULL,
  state           TEXT NOT NULL,
  response_status INTEGER,
  response_body   {{blob}},
  resource_id     TEXT,
  created_at      BIGINT NOT NULL,
  expires_at      BIGINT NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
`,
	// 2: reservations, alert state and alerts; the threshold beside the
	// counters so the hot path reads one row.
	`
ALTER TABLE inventory ADD COLUMN low_stock_threshold BIGINT NOT NULL DEFAULT 0;
ALTER TABLE inventory ADD COLUMN low_alerted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inventory ADD COLUMN out_alerted INTEGER NOT NULL DEFAULT 0;
UPDATE inventory SET low_stock_threshold = (SELECT p.low_stock_threshold FROM products p WHERE p.sku = inventory.sku);
CREATE UNIQUE INDEX inventory_ledger_ref ON inventory_ledger (sku, kind, ref) WHERE ref <> '';

CREATE TABLE reservations (
  id         TEXT PRIMARY KEY,
  state      TEXT NOT NULL,
  items      TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX reservations_held_expiry ON reservations (expires_at) WHERE state = 'held';

CREATE TABLE alerts (
  id        {{serial}},
  alert_id  TEXT NOT NULL UNIQUE,
  type      TEXT NOT NULL,
  sku       TEXT NOT NULL,
  available BIGINT NOT NULL,
  threshold BIGINT NOT NULL,
  at        BIGINT NOT NULL
);
CREATE INDEX alerts_at ON alerts (at);
`,
	// 3: orders; idempotency keys learn who holds them and since when.
	`
CREATE TABLE orders (
  id             TEXT PRIMARY KEY,
  customer_id    TEXT NOT NULL,
  status         TEXT NOT NULL,
  items          TEXT NOT NULL,
  total          BIGINT NOT NULL,
  payment_token  TEXT NOT NULL,
  payment_id     TEXT NOT NULL DEFAULT '',
  failure_reason TEXT NOT NULL DEFAULT '',
  version        BIGINT NOT NULL,
  created_at     BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, created_at);
CREATE INDEX orders_status_updated ON orders (status, updated_at);
ALTER TABLE idempotency_keys ADD COLUMN locked_at BIGINT NOT NULL DEFAULT 0;
`,
	// 4: purchase orders and the daily demand replenishment learns from.
	`
CREATE TABLE purchase_orders (
  id            TEXT PRIMARY KEY,
  sku           TEXT NOT NULL,
  quantity      BIGINT NOT NULL,
  status        TEXT NOT NULL,
  supplier      TEXT NOT NULL,
  urgent        INTEGER NOT NULL,
  trigger_key   TEXT NOT NULL UNIQUE,
  justification TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  expected_at   BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX purchase_orders_one_open ON purchase_orders (sku, urgent) WHERE status IN ('requested', 'confirmed', 'shipped');
CREATE INDEX purchase_orders_status ON purchase_orders (status, created_at);
CREATE INDEX purchase_orders_sku ON purchase_orders (sku, created_at);

CREATE TABLE demand_daily (
  sku   TEXT NOT NULL,
  day   BIGINT NOT NULL,
  units BIGINT NOT NULL,
  PRIMARY KEY (sku, day)
);
CREATE TABLE demand_events (
  event_id TEXT PRIMARY KEY,
  at       BIGINT NOT NULL
);
`,
	// 5: only adjustments are looked up by ref; reservation entries need no
	// unique index (one fewer b-tree insert per reserve, commit and release).
	`
DROP INDEX inventory_ledger_ref;
CREATE UNIQUE INDEX inventory_ledger_adjust_ref ON inventory_ledger (sku, ref) WHERE kind = 'adjust' AND ref <> '';
`,
	// 6: every dynamic price change, with its reason.
	`
CREATE TABLE price_history (
  event_id   TEXT PRIMARY KEY,
  sku        TEXT NOT NULL,
  price      BIGINT NOT NULL,
  base_price BIGINT NOT NULL,
  at         BIGINT NOT NULL,
  reason     TEXT NOT NULL
);
CREATE INDEX price_history_sku_at ON price_history (sku, at);
`,
	// 7: the relay deletes published rows instead of stamping them.
	`
DELETE FROM outbox WHERE sent_at IS NOT NULL;
DROP INDEX outbox_sent;
`,
	// 8: customer reviews (the search index is built from commerce.reviews).
	`
CREATE TABLE reviews (
  id              TEXT PRIMARY KEY,
  sku             TEXT NOT NULL,
  rating          INTEGER NOT NULL,
  text            TEXT NOT NULL,
  lang            TEXT NOT NULL,
  sentiment       TEXT NOT NULL,
  sentiment_score DOUBLE PRECISION NOT NULL,
  order_id        TEXT NOT NULL DEFAULT '',
  customer_id     TEXT NOT NULL DEFAULT '',
  created_at      BIGINT NOT NULL
);
CREATE INDEX reviews_sku ON reviews (sku, created_at);
`,
	// 9: batch report runs, each good one with its result.
	`
CREATE TABLE report_runs (
  id          TEXT PRIMARY KEY,
  report      TEXT NOT NULL,
  date_from   TEXT NOT NULL,
  date_to     TEXT NOT NULL,
  engine      TEXT NOT NULL,
  run_trigger TEXT NOT NULL,
  attempt     INTEGER NOT NULL,
  status      TEXT NOT NULL,
  started_at  BIGINT NOT NULL,
  finished_at BIGINT NOT NULL DEFAULT 0,
  inputs      TEXT NOT NULL DEFAULT '[]',
  fingerprint TEXT NOT NULL DEFAULT '',
  error       TEXT NOT NULL DEFAULT '',
  result      TEXT
);
CREATE INDEX report_runs_range ON report_runs (report, date_from, date_to, status, finished_at);
CREATE INDEX report_runs_started ON report_runs (report, started_at);
`,
	// 10: indexes no hot query reads, each a b-tree insert per row on the
	// order path. The ledger is read per SKU only by audits (reconcile sums
	// it in one pass), no query looks orders up by customer, and every
	// outbox row is unsent (the relay deletes what it publishes). The ledger
	// and customer indexes took a random leaf page per row: on SQLite, a
	// page written to the WAL at every commit.
	`
DROP INDEX inventory_ledger_sku;
DROP INDEX orders_customer;
DROP INDEX outbox_unsent;
`,
	// 11: housekeeping finds closed reservations and old demand ids through
	// an index instead of reading the whole table, on the one writer. Both
	// keys grow with the clock, so each insert lands on the last leaf.
	`
CREATE INDEX reservations_closed_updated ON reservations (updated_at) WHERE state <> 'held';
CREATE INDEX demand_events_at ON demand_events (at);
`,
	// 12: the operator console. Orders newest first and by day (the key
	// grows with the clock, so inserts land on the last leaf); each order's
	// own events, kept beside it (the outbox forgets what it relayed); and
	// checkouts refused for stock, which leave no order behind.
	`
CREATE INDEX orders_created ON orders (created_at, id);
CREATE TABLE order_events (
  id         {{serial}},
  order_id   TEXT NOT NULL,
  event_id   TEXT NOT NULL,
  event_type TEXT NOT NULL,
  at         BIGINT NOT NULL,
  data       TEXT NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, id);
CREATE TABLE checkout_refusals (
  id     {{serial}},
  reason TEXT NOT NULL,
  skus   TEXT NOT NULL,
  at     BIGINT NOT NULL
);
CREATE INDEX checkout_refusals_at ON checkout_refusals (at);
`,
	// 13: one outbox row per transaction. A row whose topic is empty
	// carries all the events of the write that made it (packEvents), and
	// events counts them, so the backlog is still counted in events.
	`
ALTER TABLE outbox ADD COLUMN events INTEGER NOT NULL DEFAULT 1;
`,
	// 14: on PostgreSQL, a trigger announces every change of products on
	// the quote cache's channel (pgOnly; quotecache.go). SQLite has one
	// process per database and no cache.
	``,
	// 15: on PostgreSQL, the outbox payload is compressed with lz4 where
	// the server has it (pgOnly). A checkout batch's events travel in one
	// row of tens of kilobytes, which PostgreSQL's default compression
	// (pglz) spent more CPU on than any statement of the batch did.
	``,
}

// pgOnly holds the statements a migration runs on PostgreSQL alone, each
// sent whole (a function's body has semicolons of its own), after the
// migration's shared text.
var pgOnly = map[int][]string{
	15: {
		`DO $$
BEGIN
  ALTER TABLE outbox ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  NULL; -- a server built without lz4 keeps pglz
END $$`,
	},
	14: {
		`CREATE FUNCTION mercato_products_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('` + quotesChannel + `', '');
  ELSIF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('` + quotesChannel + `', NEW.sku);
  ELSE
    PERFORM pg_notify('` + quotesChannel + `', OLD.sku);
    IF TG_OP = 'UPDATE' AND NEW.sku <> OLD.sku THEN
      PERFORM pg_notify('` + quotesChannel + `', NEW.sku);
    END IF;
  END IF;
  RETURN NULL;
END
$$`,
		`CREATE TRIGGER products_changed AFTER INSERT OR UPDATE OR DELETE ON products
  FOR EACH ROW EXECUTE FUNCTION mercato_products_changed()`,
		`CREATE TRIGGER products_truncated AFTER TRUNCATE ON products
  FOR EACH STATEMENT EXECUTE FUNCTION mercato_products_changed()`,
	},
}

func (s *Store) ddl(q string) string {
	r := strings.NewReplacer(
		"{{serial}}", map[bool]string{true: "BIGSERIAL PRIMARY KEY", false: "INTEGER PRIMARY KEY AUTOINCREMENT"}[s.pg],
		"{{blob}}", map[bool]string{true: "BYTEA", false: "BLOB"}[s.pg],
	)
	return r.Replace(q)
}

// migrate brings the schema to the newest version. On PostgreSQL an advisory
// lock makes concurrent starts of several instances safe.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	for i, m := range migrations {
		version := i + 1
		err := s.inTx(ctx, func(tx *txn) error {
			if s.pg {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(727001)`); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, (`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range strings.Split(s.ddl(m), ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", strings.TrimSpace(stmt), err)
				}
			}
			if s.pg {
				for _, stmt := range pgOnly[version] {
					if _, err := tx.ExecContext(ctx, stmt); err != nil {
						return fmt.Errorf("%s: %w", stmt, err)
					}
				}
			}
			_, err := tx.ExecContext(ctx, (`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %d: %w", version, err)
		}
	}
	return nil
}

// SchemaVersion returns the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return int(v.Int64), nil
}
