package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/adapters/sqlstore"
	"github.com/mercato-platform/mercato/internal/storetest"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func open(t *testing.T, kind, dsn string) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := sqlstore.Open(ctx, kind, dsn, sqlstore.Options{})
	if err != nil {
		t.Fatalf("opening %s store: %v", kind, err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSQLiteContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Features{}, func(t *testing.T) storetest.Store {
		return open(t, "sqlite", filepath.Join(t.TempDir(), "mercato.db"))
	})
}

func TestPostgresContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Features{ExclusiveRelayLease: true}, func(t *testing.T) storetest.Store {
		return open(t, "postgres", testenv.PostgresDB(t))
	})
}

func TestMigrationsAreIdempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "m.db")
	for range 2 {
		s := open(t, "sqlite", path)
		v, err := s.SchemaVersion(context.Background())
		if err != nil || v < 1 {
			t.Fatalf("schema version = %d, %v", v, err)
		}
		s.Close()
	}
}
