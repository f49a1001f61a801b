package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mercato-platform/mercato/internal/app"
	"github.com/mercato-platform/mercato/internal/config"
	"github.com/mercato-platform/mercato/internal/testenv"
)

// secretsExample stands in for the secret file every process reads with
// --config: the tests load each command line with it, as the process would.
const secretsExample = "secrets.example/mercato.yaml"

// TestFilesParse: every YAML and JSON file under deploy/ parses, every
// document of a multi-document YAML file included.
func TestFilesParse(t *testing.T) {
	t.Parallel()
	var n int
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml":
			n++
			if _, err := yamlDocs(raw); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		case ".json":
			n++
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("parsed %d YAML and JSON files; the deploy directory has lost some", n)
	}
}

// mercatoProcess is one Mercato command line found in a deployment file,
// with the MERCATO_* environment it runs in.
type mercatoProcess struct {
	where string
	args  []string
	env   map[string]string
}

// TestCommandLinesAreValidConfigurations loads every Mercato command line in
// compose.yaml and the Kubernetes manifests the way `mercato serve` does
// (flags, then MERCATO_* variables, then the --config file) and validates
// the result, so an unknown flag, a misspelt variable or a setting the
// binary rejects fails here instead of at start-up.
func TestCommandLinesAreValidConfigurations(t *testing.T) {
	t.Parallel()
	procs := append(composeProcesses(t), kubernetesProcesses(t)...)
	imageEnv := dockerfileEnv(t)
	known := knownFlags()
	for _, p := range procs {
		t.Run(p.where, func(t *testing.T) {
			if len(p.args) == 0 || (p.args[0] != "serve" && p.args[0] != "broker") {
				t.Fatalf("command %q: want serve or broker", p.args)
			}
			for _, a := range p.args[1:] {
				if !strings.HasPrefix(a, "-") {
					continue
				}
				name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if !known[name] {
					t.Errorf("flag %s is not a flag of mercato %s", a, p.args[0])
				}
			}
			env := map[string]string{}
			for k, v := range imageEnv {
				env[k] = v
			}
			for k, v := range p.env {
				env[k] = v
			}
			var list []string
			for k, v := range env {
				if !strings.HasPrefix(k, "MERCATO_") {
					continue
				}
				if !knownEnv(known, k) {
					t.Errorf("environment variable %s names no flag", k)
				}
				list = append(list, k+"="+v)
			}
			args := slices.Clone(p.args[1:])
			if i := slices.Index(args, "--config"); i >= 0 && i+1 < len(args) {
				args[i+1] = secretsExample
			} else {
				t.Errorf("command %q reads no --config: the database URL and admin token would be missing", p.args)
			}
			var cfg config.Config
			fset := flag.NewFlagSet(p.args[0], flag.ContinueOnError)
			fset.SetOutput(io.Discard)
			cfg.RegisterFlags(fset)
			if err := config.Load(fset, args, list); err != nil {
				t.Fatalf("loading %q: %v", p.args, err)
			}
			if fset.NArg() > 0 {
				t.Errorf("unexpected argument %q", fset.Arg(0))
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("%q does not validate: %v", p.args, err)
			}
			if cfg.Profile != config.ProfileDistributed {
				t.Errorf("profile %q, want %s", cfg.Profile, config.ProfileDistributed)
			}
			if !strings.HasSuffix(cfg.HTTP.Addr, ":8080") || strings.HasPrefix(cfg.HTTP.Addr, "127.") {
				t.Errorf("--http-addr %q: probes and scrapes reach :8080 on the pod's address", cfg.HTTP.Addr)
			}
			if cfg.HTTP.AdminToken == "" {
				t.Error("no admin token: each api instance would generate its own")
			}
		})
	}

	// Each file runs every role, and pricing instances never share an id.
	for _, src := range []string{"compose.yaml", "kubernetes/"} {
		roles := map[string]bool{}
		ids := map[string]string{}
		for _, p := range procs {
			if !strings.HasPrefix(p.where, src) {
				continue
			}
			role := flagValue(p.args, "roles")
			roles[role] = true
			if role == config.RolePricing {
				id := flagValue(p.args, "pricing-instance-id")
				if other, dup := ids[id]; dup {
					t.Errorf("%s and %s share --pricing-instance-id %q (their Kafka transactional id)", other, p.where, id)
				}
				ids[id] = p.where
			}
		}
		for _, r := range config.Implemented {
			if !roles[r] {
				t.Errorf("%s runs no %s role", src, r)
			}
		}
	}
}

// TestKubernetesManifests checks what a cluster would only show at run
// time: probes on the right paths and port, resources, the secret file
// mounted where --config reads it, selectors of the Service and the
// disruption budgets matching pods, and kustomization listing every file.
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	objs := kubernetesObjects(t)
	var podLabels []map[string]any
	pdbs := map[string]bool{}
	for _, o := range objs {
		kind, name := str(o.doc, "kind"), str(o.doc, "metadata", "name")
		switch kind {
		case "StatefulSet":
			t.Errorf("%s: %s is a StatefulSet; Mercato's roles run as Deployments", o.file, name)
		case "Deployment":
			tmpl := dig(o.doc, "spec", "template")
			labels, _ := dig(tmpl, "metadata", "labels").(map[string]any)
			podLabels = append(podLabels, labels)
			if !matches(dig(o.doc, "spec", "selector", "matchLabels"), labels) {
				t.Errorf("%s: Deployment %s: selector does not match its pod labels", o.file, name)
			}
			checkContainer(t, o.file+": "+name, tmpl)
		}
	}
	for _, o := range objs {
		if str(o.doc, "kind") != "PodDisruptionBudget" {
			continue
		}
		for _, l := range podLabels {
			if matches(dig(o.doc, "spec", "selector", "matchLabels"), l) {
				pdbs[fmt.Sprint(l["app.kubernetes.io/component"])] = true
			}
		}
	}
	for _, role := range []string{config.RoleAPI, config.RolePricing} {
		if !pdbs[role] {
			t.Errorf("no PodDisruptionBudget selects the %s pods", role)
		}
	}
	var svc bool
	for _, o := range objs {
		if str(o.doc, "kind") != "Service" {
			continue
		}
		sel := dig(o.doc, "spec", "selector")
		for _, l := range podLabels {
			if matches(sel, l) && l["app.kubernetes.io/component"] == config.RoleAPI {
				svc = true
			}
		}
	}
	if !svc {
		t.Error("no Service selects the api pods")
	}

	// Every manifest is applied by kustomization.yaml, and only those.
	raw, err := os.ReadFile("kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %v, manifests %v", got, want)
	}
}

func checkContainer(t *testing.T, where string, tmpl any) {
	t.Helper()
	containers, _ := dig(tmpl, "spec", "containers").([]any)
	if len(containers) != 1 {
		t.Errorf("%s: %d containers, want 1", where, len(containers))
		return
	}
	c := containers[0]
	ports, _ := dig(c, "ports").([]any)
	if len(ports) != 1 || str(ports[0], "name") != "http" || fmt.Sprint(dig(ports[0], "containerPort")) != "8080" {
		t.Errorf("%s: want one port named http on 8080, got %v", where, ports)
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if got := str(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s: %s path %q, want %s", where, probe, got, path)
		}
		if got := fmt.Sprint(dig(c, probe, "httpGet", "port")); got != "http" {
			t.Errorf("%s: %s port %q, want http", where, probe, got)
		}
	}
	for _, kind := range []string{"requests", "limits"} {
		for _, r := range []string{"cpu", "memory"} {
			if dig(c, "resources", kind, r) == nil {
				t.Errorf("%s: no resources.%s.%s", where, kind, r)
			}
		}
	}
	// --config must name a file inside a volume that comes from the Secret.
	args := stringList(dig(c, "args"))
	cfgPath := flagValue(args, "config")
	mounts, _ := dig(c, "volumeMounts").([]any)
	volumes, _ := dig(tmpl, "spec", "volumes").([]any)
	var fromSecret bool
	for _, m := range mounts {
		if !strings.HasPrefix(cfgPath, str(m, "mountPath")+"/") {
			continue
		}
		for _, v := range volumes {
			if str(v, "name") == str(m, "name") && str(v, "secret", "secretName") != "" {
				fromSecret = true
			}
		}
	}
	if !fromSecret {
		t.Errorf("%s: --config %q is not in a volume from a Secret", where, cfgPath)
	}
}

// TestDashboardAndAlertMetricsExist starts Mercato with every role on the
// embedded profile, places an order so the streams carry records and a
// low-stock alert fires, and
// checks that every metric the dashboard and the alert rules query is on
// its /metrics.
func TestDashboardAndAlertMetricsExist(t *testing.T) {
	t.Parallel()
	wanted := map[string][]string{} // metric -> where it is used
	for where, expr := range alertExprs(t) {
		for _, m := range metricNames(expr) {
			wanted[m] = append(wanted[m], where)
		}
	}
	for where, expr := range dashboardExprs(t) {
		for _, m := range metricNames(expr) {
			wanted[m] = append(wanted[m], where)
		}
	}
	if len(wanted) < 10 {
		t.Fatalf("found only %d metric names in the dashboard and the rules: %v", len(wanted), wanted)
	}

	base, token := startMercato(t)
	put := `{"name":"무선 이어폰","category":"audio","base_price":12900,"price_floor":9900,"price_ceiling":15900,"stock":100,"low_stock_threshold":10}`
	if code := do(t, "PUT", base+"/v1/products/EARBUDS-01", put, map[string]string{"Authorization": "Bearer " + token}); code != 201 {
		t.Fatalf("PUT product = %d", code)
	}
	// 95 of 100 crosses the low-stock threshold: the alert series appear.
	order := `{"items":[{"sku":"EARBUDS-01","quantity":95}],"payment":{"method":"card","token":"tok_ok"}}`
	if code := do(t, "POST", base+"/v1/orders", order, map[string]string{"X-Customer-ID": "c1", "Idempotency-Key": "deploy-1"}); code != 201 {
		t.Fatalf("POST order = %d", code)
	}

	// Series appear as the order's events travel: poll until all are there.
	var missing []string
	deadline := time.Now().Add(time.Minute)
	for {
		have := exposedMetrics(t, base)
		missing = missing[:0]
		for m := range wanted {
			if !have[m] {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("%s is not on /metrics; used by %s", m, strings.Join(slices.Compact(slices.Sorted(slices.Values(wanted[m]))), ", "))
	}
}

// TestPromtoolChecksRules runs promtool on the alert rules, their unit
// tests (prometheus/alerts_test.yml) and the scrape config (with its rule
// file pointed at this checkout).
func TestPromtoolChecksRules(t *testing.T) {
	t.Parallel()
	promtool := testenv.RequireBinary(t, "promtool")
	if out, err := exec.Command(promtool, "check", "rules", "prometheus/alerts.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	// The alerts fire on the series they are about, and only then.
	if out, err := exec.Command(promtool, "test", "rules", "prometheus/alerts_test.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	raw, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("/etc/prometheus/alerts.yml")) {
		t.Fatal("prometheus.yml does not load /etc/prometheus/alerts.yml, where compose.yaml mounts the rules")
	}
	cfg := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfg, bytes.ReplaceAll(raw, []byte("/etc/prometheus/alerts.yml"), []byte(abs)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

// TestKustomizeBuilds renders the manifests with kubectl's built-in
// kustomize when kubectl is installed; it needs no cluster.
func TestKustomizeBuilds(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("SKIPPED: kubectl is not installed; kustomization.yaml was only parsed")
	}
	out, err := exec.Command(kubectl, "kustomize", "kubernetes").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("namespace: mercato")) {
		t.Error("rendered manifests are not in the mercato namespace")
	}
}

// --- reading the files ---

func yamlDocs(raw []byte) ([]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var docs []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if v != nil {
			docs = append(docs, v)
		}
	}
}

func readYAML(t *testing.T, path string) []any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := yamlDocs(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return docs
}

type k8sObject struct {
	file string
	doc  any
}

func kubernetesObjects(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Kubernetes manifests: %v", err)
	}
	var objs []k8sObject
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		for _, d := range readYAML(t, f) {
			objs = append(objs, k8sObject{file: f, doc: d})
		}
	}
	return objs
}

func isMercatoImage(image string) bool {
	return image == "mercato" || strings.HasPrefix(image, "mercato:") || strings.HasSuffix(strings.Split(image, ":")[0], "/mercato")
}

func composeProcesses(t *testing.T) []mercatoProcess {
	t.Helper()
	docs := readYAML(t, "compose.yaml")
	services, _ := dig(docs[0], "services").(map[string]any)
	var out []mercatoProcess
	for name, svc := range services {
		if !isMercatoImage(str(svc, "image")) {
			continue
		}
		env := map[string]string{}
		if m, ok := dig(svc, "environment").(map[string]any); ok {
			for k, v := range m {
				env[k] = fmt.Sprint(v)
			}
		}
		out = append(out, mercatoProcess{where: "compose.yaml/" + name, args: stringList(dig(svc, "command")), env: env})
	}
	if len(out) == 0 {
		t.Fatal("compose.yaml has no Mercato service")
	}
	return out
}

func kubernetesProcesses(t *testing.T) []mercatoProcess {
	t.Helper()
	objs := kubernetesObjects(t)
	configMaps := map[string]map[string]string{}
	for _, o := range objs {
		if str(o.doc, "kind") == "ConfigMap" {
			data := map[string]string{}
			if m, ok := dig(o.doc, "data").(map[string]any); ok {
				for k, v := range m {
					data[k] = fmt.Sprint(v)
				}
			}
			configMaps[str(o.doc, "metadata", "name")] = data
		}
	}
	var out []mercatoProcess
	for _, o := range objs {
		if str(o.doc, "kind") != "Deployment" {
			continue
		}
		containers, _ := dig(o.doc, "spec", "template", "spec", "containers").([]any)
		for _, c := range containers {
			if !isMercatoImage(str(c, "image")) {
				continue
			}
			env := map[string]string{}
			envFrom, _ := dig(c, "envFrom").([]any)
			for _, ef := range envFrom {
				name := str(ef, "configMapRef", "name")
				cm, ok := configMaps[name]
				if !ok {
					t.Errorf("%s: envFrom names ConfigMap %q, which no manifest defines", o.file, name)
				}
				for k, v := range cm {
					env[k] = v
				}
			}
			envs, _ := dig(c, "env").([]any)
			for _, e := range envs {
				env[str(e, "name")] = str(e, "value")
			}
			args := append(stringList(dig(c, "command")), stringList(dig(c, "args"))...)
			if len(args) > 0 && filepath.Base(args[0]) == "mercato" {
				args = args[1:]
			}
			out = append(out, mercatoProcess{where: o.file + "/" + str(o.doc, "metadata", "name"), args: args, env: env})
		}
	}
	if len(out) == 0 {
		t.Fatal("no Deployment runs the Mercato image")
	}
	return out
}

// dockerfileEnv is the MERCATO_* environment the image sets.
func dockerfileEnv(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, m := range regexp.MustCompile(`(MERCATO_[A-Z0-9_]+)=(\S+)`).FindAllStringSubmatch(string(raw), -1) {
		env[m[1]] = m[2]
	}
	if len(env) == 0 {
		t.Fatal("the Dockerfile sets no MERCATO_* variable")
	}
	return env
}

func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	docs := readYAML(t, "prometheus/alerts.yml")
	out := map[string]string{}
	groups, _ := dig(docs[0], "groups").([]any)
	for _, g := range groups {
		rules, _ := dig(g, "rules").([]any)
		for _, r := range rules {
			out["alert "+str(r, "alert")] = str(r, "expr")
		}
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	return out
}

func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("grafana/mercato-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out[fmt.Sprintf("panel %q (%s)", p.Title, tg.RefID)] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		var q struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &q) != nil {
			_ = json.Unmarshal(v.Query, &q.Query) // a plain string query
		}
		out["variable "+v.Name] = q.Query
	}
	if len(out) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	return out
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

var (
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// metricNames are the series names a PromQL expression reads from the
// exporters: Mercato's, and the Go and process collectors it registers.
func metricNames(expr string) []string {
	var out []string
	for _, id := range identifier.FindAllString(quoted.ReplaceAllString(expr, `""`), -1) {
		for _, prefix := range []string{"mercato_", "go_", "process_"} {
			if strings.HasPrefix(id, prefix) {
				out = append(out, id)
			}
		}
	}
	return out
}

// --- the running Mercato ---

func startMercato(t *testing.T) (base, token string) {
	t.Helper()
	var cfg config.Config
	fset := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fset) // the defaults users get
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Kafka.Listen = "127.0.0.1:0"
	cfg.Kafka.Partitions = 2
	cfg.Outbox.PollInterval = 10 * time.Millisecond
	cfg.ShutdownDrain = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.Close()
	})
	base = "http://" + a.HTTPAddr()
	// Every role starting at once takes over 25 s under -race on a busy
	// 2-core machine; readiness is not what this test is about.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, a.AdminToken()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Mercato not ready after 2 minutes: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func do(t *testing.T, method, url, body string, headers map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// exposedMetrics is every sample name on /metrics (histograms as their
// _bucket, _sum and _count series) and every family named by # TYPE.
func exposedMetrics(t *testing.T, base string) map[string]bool {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			have[strings.Fields(rest)[0]] = true
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			have[line[:i]] = true
		}
	}
	return have
}

// --- small helpers over decoded YAML and JSON ---

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := dig(v, path...).(string)
	return s
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// matches reports whether every label of selector is in labels.
func matches(selector any, labels map[string]any) bool {
	sel, ok := selector.(map[string]any)
	if !ok || len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// flagValue is the value of --name in args ("--name v" or "--name=v").
func flagValue(args []string, name string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// knownFlags are the flags `mercato serve` and `mercato broker` accept:
// the configuration's, and --config.
func knownFlags() map[string]bool {
	var cfg config.Config
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.RegisterFlags(fset)
	known := map[string]bool{"config": true}
	fset.VisitAll(func(f *flag.Flag) { known[f.Name] = true })
	return known
}

func knownEnv(known map[string]bool, name string) bool {
	for f := range known {
		if config.EnvName(f) == name {
			return true
		}
	}
	return false
}
