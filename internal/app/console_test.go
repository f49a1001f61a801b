package app_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/bus"
	"github.com/mercato-platform/mercato/internal/event"
	"github.com/mercato-platform/mercato/internal/sim"
	"github.com/mercato-platform/mercato/internal/testenv/browser"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the console views' screenshots to docs/console/")

// TestConsoleInABrowser drives the operator console in Debian's headless
// Chromium against a running Mercato: every view loads without console
// errors, and the live parts (orders, prices, alerts) move without reload.
func TestConsoleInABrowser(t *testing.T) {
	b := browser.Start(t)
	a := startApp(t, testConfig(t))
	base := "http://" + a.HTTPAddr()

	products := [][2]string{
		{"AUD-1", `{"name":"무선 이어폰 Pro","category":"audio","base_price":129000,"price_floor":99000,"price_ceiling":159000,"stock":40,"low_stock_threshold":5}`},
		{"AUD-2", `{"name":"Studio headphones","category":"audio","base_price":89000,"price_floor":70000,"price_ceiling":110000,"stock":25,"low_stock_threshold":5}`},
		{"FRS-1", `{"name":"제주 감귤 5kg","category":"fresh","base_price":19900,"price_floor":15900,"price_ceiling":25900,"stock":60,"low_stock_threshold":10}`},
		{"ALRT", `{"name":"Alert drill <b>bold</b>","category":"fresh","base_price":1000,"price_floor":800,"price_ceiling":1200,"stock":100,"low_stock_threshold":50}`},
	}
	for _, p := range products {
		if code := jsonCall(t, a, "PUT", "/v1/products/"+p[0], "", p[1], nil); code >= 300 {
			t.Fatalf("put %s: %d", p[0], code)
		}
	}

	// The token goes into the tab's session storage, as the form puts it.
	must(t, b.Do(30*time.Second, chromedp.Navigate(base+"/#/overview")))
	must(t, browser.WaitFor(b, 10*time.Second, `document.getElementById("live").textContent === "live"`))
	time.Sleep(300 * time.Millisecond) // the icon is asked for after the page
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("the first load logged errors: %s", strings.Join(errs, "; "))
	}
	if _, err := browser.Eval[bool](b, fmt.Sprintf(`sessionStorage.setItem("mercato.adminToken", %q), true`, a.AdminToken())); err != nil {
		t.Fatal(err)
	}
	must(t, b.Do(30*time.Second, chromedp.Reload()))
	must(t, browser.WaitFor(b, 10*time.Second, `document.getElementById("live").textContent === "live"`))

	t.Run("order appears live", func(t *testing.T) {
		must(t, b.Do(10*time.Second, chromedp.Navigate(base+"/#/orders")))
		must(t, browser.WaitFor(b, 10*time.Second, `document.querySelector("#orders") && document.getElementById("live").textContent === "live"`))
		var order struct {
			ID string `json:"id"`
		}
		body := `{"items":[{"sku":"AUD-1","quantity":1}],"payment":{"method":"card","token":"tok_ok"}}`
		if code := jsonCall(t, a, "POST", "/v1/orders", "cust-browser", body, &order); code != 201 {
			t.Fatalf("order: %d", code)
		}
		must(t, browser.WaitFor(b, 2*time.Second, fmt.Sprintf(`document.querySelector('#orders tr[data-order=%q]')`, order.ID)))
	})

	t.Run("price change arrives over the stream", func(t *testing.T) {
		must(t, b.Do(10*time.Second, chromedp.Navigate(base+"/#/prices?q=AUD-2")))
		must(t, browser.WaitFor(b, 10*time.Second, `document.querySelector('#prices tr[data-sku="AUD-2"]')`))
		publishPrice(t, a, "AUD-2", 97000, 89000)
		must(t, browser.WaitFor(b, 5*time.Second, `(document.querySelector('#prices tr[data-sku="AUD-2"]')||{}).textContent.includes("97,000")`))
	})

	t.Run("a burst beyond the sample is counted in the activity feed", func(t *testing.T) {
		must(t, b.Do(10*time.Second, chromedp.Navigate(base+"/#/overview")))
		must(t, browser.WaitFor(b, 10*time.Second, `document.querySelector("#activity") && document.getElementById("live").textContent === "live"`))
		// 60 changes in one produce reach the tab in one or two writes,
		// of at most 10 price.changed each: the rest arrive as counts.
		var prices []int64
		for i := range 60 {
			prices = append(prices, 90000+int64(i)*100)
		}
		publishPrices(t, a, "AUD-2", 89000, prices...)
		must(t, browser.WaitFor(b, 5*time.Second, `[...document.querySelectorAll("#activity li")].some((li) => /price\.changed.*\+\d+ more/.test(li.textContent))`))
		// The tab kept count of what the server left out.
		n, err := browser.Eval[int](b, `live.skipped`)
		if err != nil || n < 30 {
			t.Errorf("the tab counted %d skipped events (%v), want at least 30 of 60", n, err)
		}
	})

	t.Run("review with markup renders as text", func(t *testing.T) {
		text := `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> 배송 빠르고 소리 great`
		raw, _ := json.Marshal(map[string]any{"sku": "AUD-1", "rating": 5, "text": text})
		if code := jsonCall(t, a, "POST", "/v1/reviews", "cust-browser", string(raw), nil); code != 201 {
			t.Fatalf("review: %d", code)
		}
		must(t, b.Do(10*time.Second, chromedp.Navigate(base+"/#/reviews?q=great&sku=AUD-1")))
		// Indexing is asynchronous: search again until the review is found.
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok, _ := browser.Eval[bool](b, `[...document.querySelectorAll("#review-hits .hit")].some(h => h.textContent.includes("<script>window.__pwned=1</script>"))`)
			if ok {
				break
			}
			if time.Now().After(deadline) {
				seen, _ := browser.Eval[string](b, `document.getElementById("view").innerText`)
				t.Fatalf("the review never showed as text; the page shows:\n%s", seen)
			}
			_, _ = browser.Eval[bool](b, `document.querySelector('input[aria-label="search reviews"]').dispatchEvent(new Event("input")), true`)
			time.Sleep(500 * time.Millisecond)
		}
		pwned, err := browser.Eval[bool](b, `window.__pwned !== undefined || document.querySelector("#review-hits script, #review-hits img") !== null`)
		if err != nil || pwned {
			t.Fatalf("review markup was parsed as HTML (pwned=%v, err=%v)", pwned, err)
		}
	})

	t.Run("rule edited in the form is read back by the API", func(t *testing.T) {
		must(t, b.Do(10*time.Second, chromedp.Navigate(base+"/#/rules")))
		must(t, browser.WaitFor(b, 10*time.Second, `document.querySelector("#rule-form")`))
		set := `(() => { const f = document.getElementById("rule-form");
			f.elements.category.value = "audio";
			f.elements.step_limit.value = "0.07";
			f.elements.cooldown_seconds.value = "120";
			f.elements.frozen.checked = true;
			f.requestSubmit(); return true; })()`
		if _, err := browser.Eval[bool](b, set); err != nil {
			t.Fatal(err)
		}
		must(t, browser.WaitFor(b, 15*time.Second, `document.getElementById("rule-msg").textContent.startsWith("in effect")`))
		var rule struct {
			Category  string  `json:"category"`
			StepLimit float64 `json:"step_limit"`
			Cooldown  int64   `json:"cooldown_seconds"`
			Frozen    bool    `json:"frozen"`
		}
		if code := jsonCall(t, a, "GET", "/v1/pricing/rules/audio", "", "", &rule); code != 200 {
			t.Fatalf("GET rule: %d", code)
		}
		if rule.Category != "audio" || rule.StepLimit != 0.07 || rule.Cooldown != 120 || !rule.Frozen {
			t.Fatalf("rule read back = %+v", rule)
		}
	})

	t.Run("alerts view shows the newest of 1200 alerts", func(t *testing.T) {
		// Each drop to zero fires low_stock and out_of_stock; each refill re-arms both.
		for i := 0; i < 600; i++ {
			if code := jsonCall(t, a, "POST", "/v1/inventory/ALRT/adjustments", "", `{"delta":-100,"reason":"count"}`, nil); code != 200 {
				t.Fatalf("adjust down: %d", code)
			}
			if code := jsonCall(t, a, "POST", "/v1/inventory/ALRT/adjustments", "", `{"delta":100,"reason":"count"}`, nil); code != 200 {
				t.Fatalf("adjust up: %d", code)
			}
		}
		// The newest alert is on another SKU.
		if code := jsonCall(t, a, "POST", "/v1/inventory/FRS-1/adjustments", "", `{"delta":-55,"reason":"damage"}`, nil); code != 200 {
			t.Fatalf("adjust FRS-1: %d", code)
		}
		must(t, b.Do(10*time.Second, chromedp.Navigate(base+"/#/inventory")))
		must(t, browser.WaitFor(b, 10*time.Second, `(document.querySelector("#alerts tr td:nth-child(3)")||{}).textContent === "FRS-1"`))
	})

	historySKU := "AUD-2"
	if *updateScreenshots {
		// Pictures for the README show a shop at work: simulated shoppers
		// (the demo's) for two and a half minutes (pricing decides once a
		// minute of event time), then a report; the price history
		// shown is the SKU whose price moved most.
		shop(t, a, 150*time.Second)
		historySKU = mostRepriced(t, a)
	}

	t.Run("every view loads without console errors", func(t *testing.T) {
		b.Errors() // the steps above may have raced a view change; start clean
		views := []struct{ name, hash, ready string }{
			{"overview", "#/overview", `document.querySelectorAll(".cards .card").length >= 8 && document.querySelectorAll("#activity li").length > 0`},
			{"prices", "#/prices", `document.querySelectorAll("#prices tr[data-sku]").length >= 4`},
			{"price-history", "#/prices/" + historySKU, `document.querySelector(".chart .uplot")`},
			{"rules", "#/rules", `document.querySelector('#rules tr[data-category="audio"]')`},
			{"inventory", "#/inventory", `document.querySelectorAll("#alerts tr").length > 1 && document.querySelectorAll("#stock tr").length >= 4`},
			{"orders", "#/orders", `document.querySelectorAll("#orders tr[data-order]").length >= 1`},
			{"reviews", "#/reviews?sku=AUD-1", `document.querySelectorAll("#review-hits .hit").length >= 1`},
			{"reports", "#/reports", `document.querySelector("#report-runs tr")`},
		}
		for _, v := range views {
			must(t, b.Do(10*time.Second, chromedp.Navigate(base+"/"+v.hash)))
			if v.name == "overview" {
				// Something happens while the operator watches.
				must(t, browser.WaitFor(b, 10*time.Second, `document.getElementById("live").textContent === "live"`))
				body := `{"items":[{"sku":"FRS-1","quantity":2}],"payment":{"method":"card","token":"tok_ok"}}`
				if code := jsonCall(t, a, "POST", "/v1/orders", "cust-overview", body, nil); code != 201 {
					t.Fatalf("order: %d", code)
				}
			}
			if err := browser.WaitFor(b, 10*time.Second, v.ready); err != nil {
				t.Errorf("view %s: %v", v.name, err)
				continue
			}
			time.Sleep(300 * time.Millisecond) // let late requests settle into the page
			if errs := b.Errors(); len(errs) > 0 {
				t.Errorf("view %s logged errors: %s", v.name, strings.Join(errs, "; "))
			}
			if *updateScreenshots {
				ctx := b.Ctx
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("..", "..", "docs", "console", v.name+".png")
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// publishPrice writes a price.changed record to commerce.prices as the
// pricing role would, so the test controls when a price moves.
func publishPrice(t *testing.T, a *app.App, sku string, price, base int64) {
	t.Helper()
	publishPrices(t, a, sku, base, price)
}

// publishPrices produces a price.changed of sku per price, in one produce
// call, as pricing would.
func publishPrices(t *testing.T, a *app.App, sku string, base int64, prices ...int64) {
	t.Helper()
	c, err := bus.NewClient(bus.Options{Brokers: []string{a.KafkaAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var recs []*bus.Record
	for _, price := range prices {
		now := time.Now().UTC()
		env, err := event.New(event.TypePriceChanged, "console-test", sku, now, event.PriceChanged{
			SKU: sku, Price: price, BasePrice: base, UpdatedAt: now,
			Reason: event.PriceReason{RuleID: "audio@test", DemandRatio: 2.5, TargetPrice: price, PreviousPrice: base},
		})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := bus.EventRecord(event.Message{Topic: event.TopicPrices, Envelope: env})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Produce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
}

// shop drives the demo's simulated shoppers against a for d, then runs
// today's sales report.
func shop(t *testing.T, a *app.App, d time.Duration) {
	t.Helper()
	base := "http://" + a.HTTPAddr()
	model := sim.NewModel(sim.Catalogue(24, 900, 7))
	r := &sim.Runner{Base: base, AdminToken: a.AdminToken(), Model: model, Seed: 7, Shoppers: 16, Client: &http.Client{Timeout: 30 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := r.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	r.Run(ctx, time.Minute, func(sim.Stats) {})
	time.Sleep(12 * time.Second) // the lake sink's flush interval
	day := time.Now().In(time.FixedZone("KST", 9*3600)).Format(time.DateOnly)
	if code := jsonCall(t, a, "POST", "/v1/reports/sales/runs", "", `{"date":"`+day+`"}`, nil); code >= 300 {
		t.Fatalf("report run: %d", code)
	}
}

// mostRepriced is the SKU with the longest price history.
func mostRepriced(t *testing.T, a *app.App) string {
	t.Helper()
	var page struct {
		Items []struct {
			SKU string `json:"sku"`
		} `json:"items"`
	}
	if code := jsonCall(t, a, "GET", "/v1/prices?limit=200", "", "", &page); code != 200 {
		t.Fatalf("prices: %d", code)
	}
	best, most := "AUD-2", 0
	for _, p := range page.Items {
		var h struct {
			Items []json.RawMessage `json:"items"`
		}
		if jsonCall(t, a, "GET", "/v1/prices/"+p.SKU+"/history?limit=200", "", "", &h) == 200 && len(h.Items) > most {
			best, most = p.SKU, len(h.Items)
		}
	}
	return best
}
