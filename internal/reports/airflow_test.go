package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleDAGOptions() DAGOptions {
	return DAGOptions{
		DAGID:             "mercato_sales_report",
		Schedule:          "10 0 * * *",
		Timezone:          "Asia/Seoul",
		StartDate:         "2026-01-01",
		Binary:            "/usr/local/bin/mercato",
		ExtraArgs:         []string{"--data-dir", "/srv/mercato data", "--report-engine", "spark", "--spark-remote", "sc://spark:15002"},
		Retries:           3,
		RetryDelayMinutes: 5,
	}
}

func writeDAG(t *testing.T, o DAGOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteAirflowDAG(&buf, o); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// python3 returns the interpreter the DAG checks need. It is required on CI
// so that the checks cannot silently stop running there.
func python3(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is not on PATH; CI must have it to check the generated Airflow DAG")
		}
		t.Skip("python3 is not on PATH: skipping the Python checks of the generated Airflow DAG")
	}
	return p
}

// dagCheckScript parses a DAG file (a syntax check: Airflow itself is not
// needed), prints the bash_command it passes as a Python value and, if
// jinja2 is installed, that command as Airflow's Jinja renders it for the
// data interval starting 2026-03-01 00:10 in the DAG's zone. ds is set to
// a wrong date so that the test notices if {{ ds }} is used.
const dagCheckScript = `
import ast, datetime, json, sys
tree = ast.parse(open(sys.argv[1], encoding="utf-8").read(), sys.argv[1])
cmds = [ast.literal_eval(k.value) for n in ast.walk(tree) if isinstance(n, ast.Call)
        for k in n.keywords if k.arg == "bash_command"]
out = {"bash_command": cmds[0] if len(cmds) == 1 else None}
try:
    import jinja2
except ImportError:
    pass
else:
    class Start:
        def in_timezone(self, tz):
            assert tz == "Asia/Seoul", tz
            return datetime.datetime(2026, 3, 1, 0, 10)
    class Dag:
        timezone = "Asia/Seoul"
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    out["rendered"] = env.from_string(out["bash_command"]).render(
        data_interval_start=Start(), dag=Dag(), ds="1999-12-31")
print(json.dumps(out))
`

type dagCheck struct {
	BashCommand string  `json:"bash_command"`
	Rendered    *string `json:"rendered"`
}

func checkDAGPython(t *testing.T, dag string) dagCheck {
	t.Helper()
	py := python3(t)
	path := filepath.Join(t.TempDir(), "mercato_sales_report.py")
	if err := os.WriteFile(path, []byte(dag), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", dagCheckScript, path).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("python3 rejected the DAG: %v\n%s\n%s", err, stderr, dag)
	}
	var c dagCheck
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("python3 check printed %q: %v", out, err)
	}
	return c
}

func TestAirflowDAGGolden(t *testing.T) {
	t.Parallel()
	dag := writeDAG(t, sampleDAGOptions())
	golden(t, "airflow_dag.py.golden", []byte(dag))
	for _, want := range []string{
		"from airflow import DAG\n",
		"from airflow.operators.bash import BashOperator\n",
		`start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Seoul"),`,
		"catchup=True,", "max_active_runs=1,", `"retries": 3,`, `"retry_delay": timedelta(minutes=5),`,
		`task_id="sales_report",`,
	} {
		if !strings.Contains(dag, want) {
			t.Errorf("DAG lacks %q", want)
		}
	}
	c := checkDAGPython(t, dag)
	want := "/usr/local/bin/mercato report run --date " + reportDateTemplate +
		" --data-dir '/srv/mercato data' --report-engine spark --spark-remote sc://spark:15002"
	if c.BashCommand != want {
		t.Errorf("bash_command = %q\nwant %q", c.BashCommand, want)
	}
	if c.Rendered != nil && !strings.Contains(*c.Rendered, " --date 2026-03-01 ") {
		t.Errorf("rendered command %q does not report on the interval's day, 2026-03-01", *c.Rendered)
	}
}

func TestAirflowDAGDefaults(t *testing.T) {
	t.Parallel()
	dag := writeDAG(t, DAGOptions{DAGID: "d", StartDate: "2026-02-28"})
	for _, want := range []string{
		`schedule="10 0 * * *",`,
		`start_date=pendulum.datetime(2026, 2, 28, tz="Asia/Seoul"),`,
		`bash_command="mercato report run --date {{ data_interval_start`,
		`"retries": 0,`,
	} {
		if !strings.Contains(dag, want) {
			t.Errorf("DAG lacks %q:\n%s", want, dag)
		}
	}
}

// TestAirflowDAGQuotesHostileArgs checks that arguments reach mercato as
// they were given, whatever they hold: they are quoted for bash and
// escaped for Jinja, which Airflow applies to bash_command first.
func TestAirflowDAGQuotesHostileArgs(t *testing.T) {
	t.Parallel()
	args := []string{`"; rm -rf / #`, `{{ ds }}'`, `$(touch pwned)`, "`touch pwned`", `{% raw %}`, `{# x #}`,
		"two\nlines", "", `back\slash`, `it's`, "tab\there", "héllo 한국어"}
	o := sampleDAGOptions()
	o.Binary = "mercato"
	o.ExtraArgs = args
	dag := writeDAG(t, o)

	cmd := "mercato report run --date " + reportDateTemplate + " " + strings.Join([]string{
		`'"; rm -rf / #'`,
		`'{{ '{' }}{{ '{' }} ds }}'"'"''`,
		`'$(touch pwned)'`,
		"'`touch pwned`'",
		`'{{ '{' }}% raw %}'`,
		`'{{ '{' }}# x #}'`,
		"'two\nlines'",
		`''`,
		`'back\slash'`,
		`'it'"'"'s'`,
		"'tab\there'",
		"'héllo 한국어'",
	}, " ")
	if !strings.Contains(dag, "bash_command="+pyString(cmd)+",\n") {
		t.Fatalf("DAG does not hold the quoted command %q:\n%s", cmd, dag)
	}

	c := checkDAGPython(t, dag)
	if c.BashCommand != cmd {
		t.Fatalf("Python reads bash_command as %q\nwant %q", c.BashCommand, cmd)
	}
	if c.Rendered == nil {
		t.Skip("jinja2 is not installed: not checking the command Airflow would run")
	}
	// Run the rendered command with mercato replaced by a bash function that
	// prints its arguments, in an empty directory the injections would
	// leave a file in. The rm -rf argument is only echoed: it is quoted.
	dir := t.TempDir()
	run := exec.Command("bash", "-c", `mercato() { printf '%s\0' "$@"; }; `+*c.Rendered)
	run.Dir = dir
	out, err := run.Output()
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	want := append([]string{"report", "run", "--date", "2026-03-01"}, args...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mercato got arguments\n%q\nwant\n%q", got, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the command created %v", entries)
	}
}

// TestAirflowDAGScriptSuffix checks that a command ending in ".sh" gets a
// trailing space, without which BashOperator reads it as a template file.
func TestAirflowDAGScriptSuffix(t *testing.T) {
	t.Parallel()
	for _, last := range []string{"/opt/notify.sh", "hook.bash"} {
		o := sampleDAGOptions()
		o.ExtraArgs = []string{"--hook", last}
		if dag := writeDAG(t, o); !strings.Contains(dag, last+` ",`) {
			t.Errorf("command ending in %q has no trailing space:\n%s", last, dag)
		}
	}
}

func TestAirflowDAGValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		edit   func(*DAGOptions)
		errHas string
	}{
		{"empty DAG id", func(o *DAGOptions) { o.DAGID = "" }, "DAG id"},
		{"DAG id with space", func(o *DAGOptions) { o.DAGID = "sales report" }, "DAG id"},
		{"DAG id with quote", func(o *DAGOptions) { o.DAGID = `x"); import os #` }, "DAG id"},
		{"DAG id too long", func(o *DAGOptions) { o.DAGID = strings.Repeat("a", 251) }, "DAG id"},
		{"4-field schedule", func(o *DAGOptions) { o.Schedule = "10 0 * *" }, "5 fields"},
		{"6-field schedule", func(o *DAGOptions) { o.Schedule = "0 10 0 * * *" }, "5 fields"},
		{"preset schedule", func(o *DAGOptions) { o.Schedule = "@daily" }, "5 fields"},
		{"bad minute", func(o *DAGOptions) { o.Schedule = "61 0 * * *" }, "schedule"},
		{"bad field", func(o *DAGOptions) { o.Schedule = "10 0 * * mon-xyz" }, "schedule"},
		{"unknown zone", func(o *DAGOptions) { o.Timezone = "Mars/Olympus_Mons" }, "time zone"},
		{"Local zone", func(o *DAGOptions) { o.Timezone = "Local" }, "time zone"},
		{"empty start date", func(o *DAGOptions) { o.StartDate = "" }, "start date"},
		{"bad start date", func(o *DAGOptions) { o.StartDate = "2026-02-30" }, "start date"},
		{"US start date", func(o *DAGOptions) { o.StartDate = "01/02/2026" }, "start date"},
		{"negative retries", func(o *DAGOptions) { o.Retries = -1 }, "retries"},
		{"negative retry delay", func(o *DAGOptions) { o.RetryDelayMinutes = -5 }, "retry delay"},
		{"NUL in argument", func(o *DAGOptions) { o.ExtraArgs = []string{"a\x00b"} }, "NUL"},
		{"NUL in binary", func(o *DAGOptions) { o.Binary = "mer\x00cato" }, "NUL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := sampleDAGOptions()
			c.edit(&o)
			var buf bytes.Buffer
			err := WriteAirflowDAG(&buf, o)
			if !errors.Is(err, ErrBadDAGOptions) || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("err = %v, want ErrBadDAGOptions mentioning %q", err, c.errHas)
			}
			if buf.Len() != 0 {
				t.Error("an invalid DAG was partly written")
			}
		})
	}
	for _, ok := range []func(*DAGOptions){
		func(o *DAGOptions) { o.DAGID = strings.Repeat("a", 250) },
		func(o *DAGOptions) { o.DAGID = "Mercato.sales-report_v2" },
		func(o *DAGOptions) { o.Schedule = "*/15 1-5 1,15 * MON-FRI" },
		func(o *DAGOptions) { o.Timezone = "UTC" },
		func(o *DAGOptions) { o.Retries, o.RetryDelayMinutes = 0, 0 },
	} {
		o := sampleDAGOptions()
		ok(&o)
		if err := WriteAirflowDAG(&bytes.Buffer{}, o); err != nil {
			t.Errorf("valid options %+v rejected: %v", o, err)
		}
	}
}

func TestAirflowShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":              "''",
		"--data-dir":    "--data-dir",
		"/srv/a_b.c@1":  "/srv/a_b.c@1",
		"sc://spark:1":  "sc://spark:1",
		"a b":           "'a b'",
		"it's":          `'it'"'"'s'`,
		"$HOME":         "'$HOME'",
		"*":             "'*'",
		"~":             "'~'",
		"a;b|c&d>e<f":   "'a;b|c&d>e<f'",
		"\\":            `'\'`,
		"\"double\"":    `'"double"'`,
		"ends-with.sh":  "ends-with.sh",
		"한국어":           "'한국어'",
		"!history":      "'!history'",
		"{{ ds }}":      "'{{ ds }}'",
		"x\ny":          "'x\ny'",
		"--opt=val,v2+": "--opt=val,v2+",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
