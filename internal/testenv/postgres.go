package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for creating test databases
)

// pgBinDir is where Debian installs PostgreSQL's server programs.
const pgBinDir = "/usr/lib/postgresql/15/bin"

// Postgres is a throwaway PostgreSQL server.
type Postgres struct {
	dir    string
	port   int
	pgCtl  string
	asUser []string // runuser prefix when the tests run as root
	dbSeq  atomic.Int64
}

var (
	sharedMu  sync.Mutex
	sharedPG  *Postgres
	mainSetup atomic.Bool
)

// Main runs a package's tests and then stops the servers they shared. Use it
// from TestMain in every package that calls PostgresDB:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with work of its own after the tests: it runs
// them, stops the shared PostgreSQL server and returns the exit code.
func Run(m *testing.M) int {
	mainSetup.Store(true)
	code := m.Run()
	sharedMu.Lock()
	if sharedPG != nil {
		sharedPG.Stop()
	}
	sharedMu.Unlock()
	return code
}

// PostgresDB returns the URL of a new, empty database on a PostgreSQL server
// shared by the package's tests (started on first use, on a free loopback
// port, in a temp directory).
func PostgresDB(t testing.TB) string {
	t.Helper()
	return PostgresDBWith(t, "")
}

// PostgresDBWith is PostgresDB with options for its CREATE DATABASE, such
// as a collation other than the server's C (`TEMPLATE template0
// LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`), as a shop's database often
// has.
func PostgresDBWith(t testing.TB, options string) string {
	t.Helper()
	if !mainSetup.Load() {
		t.Fatal("testenv.PostgresDB needs TestMain to call testenv.Main(m), which stops the server")
	}
	initdb := RequireBinary(t, "initdb", pgBinDir)
	pgCtl := RequireBinary(t, "pg_ctl", pgBinDir)
	sharedMu.Lock()
	if sharedPG == nil {
		pg, err := startPostgres(initdb, pgCtl, FreePort(t))
		if err != nil {
			sharedMu.Unlock()
			t.Fatalf("starting PostgreSQL: %v", err)
		}
		sharedPG = pg
	}
	pg := sharedPG
	sharedMu.Unlock()
	name := fmt.Sprintf("mercato_test_%d_%d", os.Getpid(), pg.dbSeq.Add(1))
	pg.admin(t, strings.TrimSpace("CREATE DATABASE "+name+" "+options))
	return pg.url(name)
}

// PostgresAppDB is PostgresDB for an application role, the way a shop
// hands a database to a service: a new login role with a password that is
// no superuser and may create neither databases nor roles, owning a new
// database. The URL connects as that role.
func PostgresAppDB(t testing.TB) string {
	t.Helper()
	dsn := PostgresDB(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	role, password := name+"_app", fmt.Sprintf("pw-%d", time.Now().UnixNano())
	sharedMu.Lock()
	pg := sharedPG
	sharedMu.Unlock()
	pg.admin(t, "CREATE ROLE "+role+" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '"+password+"'")
	pg.admin(t, "ALTER DATABASE "+name+" OWNER TO "+role)
	u.User = url.UserPassword(role, password)
	return u.String()
}

// admin runs a statement as the superuser on the server's postgres
// database.
func (p *Postgres) admin(t testing.TB, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", p.url("postgres"))
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", strings.Fields(stmt)[0]+" "+strings.Fields(stmt)[1], err)
	}
}

func (p *Postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// startPostgres runs initdb and pg_ctl. PostgreSQL refuses to run as root, so
// as root both run as the postgres user on a directory that user owns.
func startPostgres(initdb, pgCtl string, port int) (*Postgres, error) {
	dir, err := os.MkdirTemp("", "mercato-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir, port: port, pgCtl: pgCtl}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	data := filepath.Join(dir, "data")
	if out, err := p.run(initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200", port, dir)
	if out, err := p.run(pgCtl, "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	return p, nil
}

func (p *Postgres) run(bin string, args ...string) ([]byte, error) {
	argv := append(append(append([]string{}, p.asUser...), bin), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.dir
	return cmd.CombinedOutput()
}

// Stop shuts the server down and removes its files.
func (p *Postgres) Stop() {
	_, _ = p.run(p.pgCtl, "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(p.dir)
}

// AdvisoryLockHolder is the backend pid that holds the session advisory
// lock key in db's database, 0 when none does. Advisory locks are per
// database, and other tests' databases share the server.
func AdvisoryLockHolder(t testing.TB, db *sql.DB, key int64) int {
	t.Helper()
	var pid int
	err := db.QueryRow(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, key).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
