package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

type recorder struct {
	testing.TB
	fatal, skipped string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }
func (r *recorder) Skipf(f string, a ...any)  { r.skipped = fmt.Sprintf(f, a...) }
func (r *recorder) Fatal(a ...any)            { r.fatal = fmt.Sprint(a...) }

func TestMissingServerSkipsLocallyAndFailsInCI(t *testing.T) {
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	RequireBinary(r, "mercato-no-such-server")
	if r.skipped == "" || r.fatal != "" {
		t.Errorf("without CI: skipped=%q fatal=%q, want a loud skip", r.skipped, r.fatal)
	}
	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	RequireBinary(r, "mercato-no-such-server")
	if r.fatal == "" || r.skipped != "" {
		t.Errorf("with CI: skipped=%q fatal=%q, want a failure", r.skipped, r.fatal)
	}
}

func TestRedisAnswers(t *testing.T) {
	t.Parallel()
	addr := Redis(t)
	if err := redisPing(addr); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresDatabasesAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := PostgresDB(t), PostgresDB(t)
	if a == b {
		t.Fatal("two calls returned the same database")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s", v)
}

func TestPostgresAppDBIsNoSuperuser(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", PostgresAppDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var super, createDB bool
	var user string
	if err := db.QueryRowContext(ctx, `SELECT current_user, rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &createDB); err != nil {
		t.Fatal(err)
	}
	if super || createDB || user == "postgres" {
		t.Fatalf("role %s: superuser %v, createdb %v", user, super, createDB)
	}
	// It owns its database: it can create tables there.
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INT)`); err != nil {
		t.Fatalf("the owner cannot create a table: %v", err)
	}
}
