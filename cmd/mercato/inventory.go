package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/mercato-platform/mercato/internal/app"
)

// exitInconsistent is reconcile's status when Redis and the ledger disagree.
const exitInconsistent = 3

func runInventory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "reconcile" {
		fmt.Fprintln(stderr, "mercato: usage: mercato inventory reconcile [--fix] [--json] (with --db and --redis-addr as for serve)")
		return exitConfig
	}
	var fix, asJSON bool
	cfg, code, ok := loadConfig("inventory reconcile", args[1:], stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&fix, "fix", false, "rewrite Redis from the ledger where they disagree")
		fs.BoolVar(&asJSON, "json", false, "print one JSON object per inconsistency")
	})
	if !ok {
		return code
	}
	if !cfg.Redis.Enabled() {
		fmt.Fprintln(stderr, "mercato: inventory reconcile needs Redis: --redis-addr, --redis-sentinel-master or --redis-cluster-addrs (without Redis the ledger is the only copy)")
		return exitConfig
	}
	log := newLogger(stderr, cfg)
	store, err := app.OpenStore(ctx, cfg)
	if err != nil {
		printErrors(stderr, err)
		return exitFor(err)
	}
	defer store.Close()
	rdb, inv, err := app.OpenRedisInventory(ctx, cfg, store, slog.New(log.Handler()))
	if err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	defer rdb.Close()
	found, err := inv.Reconcile(ctx, fix)
	if err != nil {
		printErrors(stderr, err)
		return exitRuntime
	}
	enc := json.NewEncoder(stdout)
	for _, m := range found {
		if asJSON {
			_ = enc.Encode(m)
			continue
		}
		fmt.Fprintf(stdout, "%s\t%s\tredis=%d\tledger=%d\n", m.SKU, m.Field, m.Redis, m.Ledger)
	}
	if len(found) == 0 {
		fmt.Fprintln(stderr, "inventory: Redis and the ledger agree")
		return exitOK
	}
	verb := "found"
	if fix {
		verb = "found and fixed"
	}
	fmt.Fprintf(stderr, "inventory: %s %d inconsistencies\n", verb, len(found))
	return exitInconsistent
}
