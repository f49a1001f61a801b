package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/pricing/stream"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// TestRolePrincipals runs every role as its own process-like app under its
// own SCRAM principal on an embedded broker that enforces ACLs (the ones
// app.RoleGrants gives): each role does its whole job with no more, and a
// role cannot write a topic that is not its own (the api cannot forge
// prices; the relay cannot change pricing rules).
func TestRolePrincipals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secrets := filepath.Join(dir, "role-secrets")
	adminPW := filepath.Join(dir, "admin-password")
	if err := os.WriteFile(adminPW, []byte("admin-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bcfg := testConfig(t)
	bcfg.Kafka.SASLMechanism, bcfg.Kafka.SASLUsername, bcfg.Kafka.SASLPasswordFile = config.KafkaSASLScramSHA256, "admin", adminPW
	bcfg.Kafka.RoleSecretsDir = secrets
	if err := bcfg.Validate(); err != nil {
		t.Fatal(err)
	}
	broker, err := app.StartBroker(bcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)

	clientAs := func(user, pwFile string) *bus.Client {
		t.Helper()
		pw, err := os.ReadFile(pwFile)
		if err != nil {
			t.Fatal(err)
		}
		c, err := bus.NewClient(bus.Options{Brokers: []string{broker.Addr()}, Security: bus.Security{
			SASLMechanism: config.KafkaSASLScramSHA256, Username: user, Password: strings.TrimSpace(string(pw)),
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	admin := clientAs("admin", adminPW)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Topics are the operator's (mercato topics create); roles only check them.
	if err := admin.EnsureTopics(ctx, append(event.Topics(), stream.Topics()...), bcfg.Kafka.Partitions); err != nil {
		t.Fatal(err)
	}

	db := testenv.PostgresDB(t)
	redisAddr := testenv.Redis(t)
	apps := map[string]*app.App{}
	for _, role := range app.KafkaRoles {
		cfg := testConfig(t)
		cfg.Profile, cfg.Roles = config.ProfileDistributed, role
		cfg.Kafka.Brokers, cfg.Kafka.AutoCreateTopics = broker.Addr(), false
		cfg.Kafka.SASLMechanism, cfg.Kafka.SASLUsername = config.KafkaSASLScramSHA256, app.RolePrincipal(role)
		cfg.Kafka.SASLPasswordFile = filepath.Join(secrets, role)
		cfg.Store.DB, cfg.Redis.Addr = db, redisAddr
		cfg.HTTP.AdminToken = "role-principals-admin-token-0123"
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		apps[role] = startApp(t, cfg)
	}
	api := apps[config.RoleAPI]

	if code := call(t, api, "PUT", "/v1/products/ACL-1", `{"name":"권한 테스트","category":"acl","base_price":10000,"price_floor":8000,"price_ceiling":12000,"stock":20,"low_stock_threshold":15}`); code != 201 {
		t.Fatalf("PUT product = %d", code)
	}
	for i := range 6 {
		if code, err := postOrder(http.DefaultClient, "http://"+api.HTTPAddr(), "acl-cust", fmt.Sprintf("acl-%d", i), "ACL-1"); err != nil || code != 201 {
			t.Fatalf("order %d = %d, %v", i, code, err)
		}
	}
	review, _ := json.Marshal(map[string]any{"sku": "ACL-1", "rating": 4, "text": "권한이 잘 나뉘어 있어요 good"})
	if code := jsonCall(t, api, "POST", "/v1/reviews", "acl-cust", string(review), nil); code != 201 {
		t.Fatalf("review = %d", code)
	}
	if code := call(t, api, "PUT", "/v1/pricing/rules/acl", `{"step_limit":0.05}`); code != 200 {
		t.Fatalf("PUT rule = %d", code)
	}

	// Every group consumes everything: each role read, committed (pricing in
	// its transactions) and wrote what it needed under its own principal.
	groups := map[string][]string{
		"pricing":          {event.TopicPurchases, event.TopicInventory, event.TopicProducts},
		"replenishment":    {event.TopicPurchases, event.TopicInventory},
		"inventory-alerts": {event.TopicAlerts},
		"reviews":          {event.TopicReviews},
		"lake-sink":        {event.TopicPurchases, event.TopicOrders, event.TopicPayments},
	}
	for group, topics := range groups {
		testenv.WaitFor(t, "group "+group+" to consume everything", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			lag, err := admin.GroupLag(ctx, group, topics...)
			return err == nil && lag == 0
		})
	}
	for role, a := range apps {
		resp, err := http.Get("http://" + a.HTTPAddr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s /readyz = %d", role, resp.StatusCode)
		}
	}
	// The api's rule reached pricing's follower and the api's own reader.
	testenv.WaitFor(t, "the rule to be read back", func() bool {
		return call(t, api, "GET", "/v1/pricing/rules/acl", "") == 200
	})

	// Nobody but pricing writes prices; nobody but the api writes rules.
	forge := func(role, topic string) error {
		c := clientAs(app.RolePrincipal(role), filepath.Join(secrets, role))
		env, err := event.New(event.TypePriceChanged, "forger", "ACL-1", time.Now(), event.PriceChanged{SKU: "ACL-1", Price: 1, BasePrice: 10000})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return c.Publish(ctx, event.Message{Topic: topic, Envelope: env})
	}
	for _, f := range []struct{ role, topic string }{
		{config.RoleAPI, event.TopicPrices},
		{config.RoleOutboxRelay, event.TopicPrices},
		{config.RoleOutboxRelay, event.TopicPricingRules},
		{config.RoleReviews, event.TopicOrders},
	} {
		if err := forge(f.role, f.topic); err == nil || !strings.Contains(strings.ToUpper(err.Error()), "AUTHORIZATION") {
			t.Errorf("%s writing %s: err = %v, want an authorization failure", f.role, f.topic, err)
		}
	}
}

// jsonCall sends a JSON request as the admin (or as customer, when given)
// and decodes the answer into out when out is not nil.
func jsonCall(t *testing.T, a *app.App, method, path, customer, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+a.HTTPAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if customer != "" {
		req.Header.Set("X-Customer-ID", customer)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-%d", customer, time.Now().UnixNano()))
	} else {
		req.Header.Set("Authorization", "Bearer "+a.AdminToken())
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}
