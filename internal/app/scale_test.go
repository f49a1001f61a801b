package app_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestTwoAPIInstancesShareOneBackend runs two full instances in the
// distributed profile against one PostgreSQL, one Redis and one broker, and
// sells a flash sale through both at once: every invariant must hold.
func TestTwoAPIInstancesShareOneBackend(t *testing.T) {
	t.Parallel()
	broker, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), "kafka"), SyncWrites: true, Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	db := testenv.PostgresDB(t)
	redisAddr := testenv.Redis(t)
	var apps [2]string

	for i := range apps {
		cfg := testConfig(t)
		cfg.Profile = config.ProfileDistributed
		cfg.Kafka.Brokers = broker.Addr()
		cfg.Store.DB = db
		cfg.Redis.Addr = redisAddr
		cfg.HTTP.AdminToken = "shared-admin-token-0123456789"
		cfg.Pricing.InstanceID = fmt.Sprintf("pricing-%d", i) // unique per instance
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		a := startApp(t, cfg)
		apps[i] = "http://" + a.HTTPAddr()

		if i == 0 {
			if code := call(t, a, "PUT", "/v1/products/SHARED-1", `{"name":"공유 재고","category":"c","base_price":5000,"price_floor":5000,"price_ceiling":5000,"stock":100}`); code != 201 {
				t.Fatalf("PUT = %d", code)
			}
		}
	}
	status := placeConcurrently(t, apps[:], 300, 48, "SHARED-1")
	if status[201] != 100 || status[409] != 200 {
		t.Fatalf("statuses = %v, want exactly 100 x 201 and 200 x 409", status)
	}
	for _, base := range apps {
		resp, err := http.Get(base + "/v1/inventory/SHARED-1")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(raw), `"on_hand":0`) || !strings.Contains(string(raw), `"reserved":0`) {
			t.Errorf("inventory seen by %s: %s", base, raw)
		}
	}
	if n := countPurchases(t, broker.Addr(), "SHARED-1", 100); n != 100 {
		t.Errorf("distinct purchase events = %d, want 100", n)
	}

}
