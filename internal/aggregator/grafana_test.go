package aggregator_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/earshot/earshot/internal/testenv"
)

// The Grafana dashboard (deploy/grafana) is checked here without servers: it parses, every panel
// reads the provisioned ClickHouse data source, every query expands to plain SQL, and the
// provisioning finds the dashboard. testGrafana (grafana_integration_test.go) runs its queries.

const grafanaPluginID = "grafana-clickhouse-datasource"

func grafanaPath(parts ...string) string {
	return filepath.Join(append([]string{testenv.RepoRoot(), "deploy", "grafana"}, parts...)...)
}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaTarget struct {
	RefID      string             `json:"refId"`
	Datasource *grafanaDatasource `json:"datasource"`
	EditorType string             `json:"editorType"`
	Format     *int               `json:"format"`
	RawSQL     string             `json:"rawSql"`
}

type grafanaPanel struct {
	ID         int                `json:"id"`
	Type       string             `json:"type"`
	Title      string             `json:"title"`
	Datasource *grafanaDatasource `json:"datasource"`
	Targets    []grafanaTarget    `json:"targets"`
	// Panels are a row's panels while the row is collapsed.
	Panels []grafanaPanel `json:"panels"`
}

type grafanaAnnotation struct {
	Name       string             `json:"name"`
	BuiltIn    int                `json:"builtIn"`
	Enable     bool               `json:"enable"`
	Datasource *grafanaDatasource `json:"datasource"`
	Target     grafanaTarget      `json:"target"`
}

type grafanaVariable struct {
	Name       string             `json:"name"`
	Type       string             `json:"type"`
	Datasource *grafanaDatasource `json:"datasource"`
	// Query is the SQL, or (newer plugin versions) an object holding it in rawSql.
	Query json.RawMessage `json:"query"`
}

func (v grafanaVariable) sql() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var q struct {
		RawSQL string `json:"rawSql"`
	}
	_ = json.Unmarshal(v.Query, &q)
	return q.RawSQL
}

type grafanaDashboard struct {
	UID         string         `json:"uid"`
	Title       string         `json:"title"`
	Panels      []grafanaPanel `json:"panels"`
	Annotations struct {
		List []grafanaAnnotation `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []grafanaVariable `json:"list"`
	} `json:"templating"`
}

// grafanaQuery is one query of the dashboard: key names where it comes from ("panel: <title>",
// "annotation: <name>" or "variable: <name>").
type grafanaQuery struct {
	key, refID, sql string
	datasource      *grafanaDatasource
}

func loadGrafanaDashboard(t *testing.T) *grafanaDashboard {
	t.Helper()
	data, err := os.ReadFile(grafanaPath("dashboards", "earshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("deploy/grafana/dashboards/earshot.json: %v", err)
	}
	return &d
}

// grafanaPanels lists the panels that are not rows, with the panels of collapsed rows.
func grafanaPanels(ps []grafanaPanel) []grafanaPanel {
	var out []grafanaPanel
	for _, p := range ps {
		if p.Type != "row" {
			out = append(out, p)
		}
		out = append(out, grafanaPanels(p.Panels)...)
	}
	return out
}

// queries lists every query of the dashboard: the panels' targets, the annotations (but
// Grafana's built-in one) and the query variables.
func (d *grafanaDashboard) queries() []grafanaQuery {
	var out []grafanaQuery
	for _, p := range grafanaPanels(d.Panels) {
		for _, tg := range p.Targets {
			out = append(out, grafanaQuery{key: "panel: " + p.Title, refID: tg.RefID, sql: tg.RawSQL, datasource: tg.Datasource})
		}
	}
	for _, a := range d.Annotations.List {
		if a.BuiltIn == 0 {
			out = append(out, grafanaQuery{key: "annotation: " + a.Name, refID: a.Target.RefID, sql: a.Target.RawSQL, datasource: a.Datasource})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			out = append(out, grafanaQuery{key: "variable: " + v.Name, sql: v.sql(), datasource: v.Datasource})
		}
	}
	return out
}

// grafanaRange is what Grafana and the plugin substitute in a query: the dashboard's time
// range and the panel's interval.
type grafanaRange struct {
	From, To time.Time
	Interval time.Duration
}

var (
	// Grafana's template variables: $name, ${name} and ${name:format}.
	grafanaVariableRef = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\$(\w+)`)
	grafanaMacroRef    = regexp.MustCompile(`\$__(\w+)`)
)

// grafanaExpand does to sql what Grafana and the ClickHouse plugin do before it reaches
// ClickHouse: Grafana replaces the template variables (a plain $var is inserted as it is, the
// plugin quotes only multi-value variables; ${var:sqlstring} quotes and doubles quotes), then the
// plugin's backend expands its macros with the time range as unix seconds (pkg/macros in
// grafana/clickhouse-datasource). Anything with a $ left over is an error: a macro or variable
// this function, and so the test, does not know.
func grafanaExpand(sql string, vars map[string]string, rg grafanaRange) (string, error) {
	var err error
	sql = grafanaVariableRef.ReplaceAllStringFunc(sql, func(ref string) string {
		m := grafanaVariableRef.FindStringSubmatch(ref)
		name, format := m[1], m[2]
		if name == "" {
			name = m[3]
		}
		v, ok := vars[name]
		if !ok {
			return ref // a macro, or unknown: reported below
		}
		switch format {
		case "", "raw":
			return v
		case "sqlstring":
			return "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case "singlequote":
			return "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
		default:
			err = fmt.Errorf("variable format %q in %s is not known to the test", format, ref)
			return ref
		}
	})
	if err != nil {
		return "", err
	}
	dt := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	dt64 := func(t time.Time) string { return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli()) }
	date := func(t time.Time) string { return fmt.Sprintf("toDate('%s')", t.UTC().Format(time.DateOnly)) }
	sec := max(int(rg.Interval.Seconds()), 1)
	ms := max(rg.Interval.Milliseconds(), 1)
	for {
		loc := grafanaMacroRef.FindStringSubmatchIndex(sql)
		if loc == nil {
			break
		}
		name := sql[loc[2]:loc[3]]
		end := loc[1]
		var args []string
		if end < len(sql) && sql[end] == '(' {
			var n int
			args, n, err = grafanaMacroArgs(sql[end:])
			if err != nil {
				return "", fmt.Errorf("$__%s: %w", name, err)
			}
			end += n
		}
		want := map[string]int{"timeFilter": 1, "timeFilter_ms": 1, "dateFilter": 1, "dateTimeFilter": 2, "dt": 2,
			"timeInterval": 1, "timeInterval_ms": 1, "conditionalAll": 2}[name]
		if len(args) != want {
			return "", fmt.Errorf("$__%s takes %d arguments, got %d", name, want, len(args))
		}
		var out string
		switch name {
		case "fromTime":
			out = dt(rg.From)
		case "toTime":
			out = dt(rg.To)
		case "fromTime_ms":
			out = dt64(rg.From)
		case "toTime_ms":
			out = dt64(rg.To)
		case "interval_s":
			out = fmt.Sprint(sec)
		case "timeFilter":
			out = fmt.Sprintf("%s >= %s AND %s <= %s", args[0], dt(rg.From), args[0], dt(rg.To))
		case "timeFilter_ms":
			out = fmt.Sprintf("%s >= %s AND %s <= %s", args[0], dt64(rg.From), args[0], dt64(rg.To))
		case "dateFilter":
			out = fmt.Sprintf("%s >= %s AND %s <= %s", args[0], date(rg.From), args[0], date(rg.To))
		case "dateTimeFilter", "dt":
			out = fmt.Sprintf("(%s >= %s AND %s <= %s) AND (%s >= %s AND %s <= %s)",
				args[0], date(rg.From), args[0], date(rg.To), args[1], dt(rg.From), args[1], dt(rg.To))
		case "timeInterval":
			out = fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", args[0], sec)
		case "timeInterval_ms":
			out = fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", args[0], ms)
		case "conditionalAll":
			out = args[0] // the variable has a value (no "All")
		default:
			return "", fmt.Errorf("macro $__%s is not known to the test", name)
		}
		sql = sql[:loc[0]] + out + sql[end:]
	}
	if i := strings.Index(sql, "$"); i >= 0 {
		return "", fmt.Errorf("left unsubstituted: %q", sql[i:min(len(sql), i+40)])
	}
	return sql, nil
}

// grafanaMacroArgs splits "(a, f(b, c))..." into its top-level arguments and returns how many
// bytes the parenthesis took.
func grafanaMacroArgs(s string) ([]string, int, error) {
	depth, start := 0, 1
	var args []string
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return append(args, strings.TrimSpace(s[start:i])), i + 1, nil
			}
		case ',':
			if depth == 1 {
				args = append(args, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return nil, 0, fmt.Errorf("unbalanced parentheses in %q", s)
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// grafanaDatasourceUID is the uid of the provisioned ClickHouse data source.
func grafanaDatasourceUID(t *testing.T) string {
	t.Helper()
	var prov struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name     string         `yaml:"name"`
			UID      string         `yaml:"uid"`
			Type     string         `yaml:"type"`
			JSONData map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, grafanaPath("provisioning", "datasources", "clickhouse.yaml"), &prov)
	if prov.APIVersion != 1 || len(prov.Datasources) != 1 {
		t.Fatalf("datasources/clickhouse.yaml: apiVersion %d, %d data sources; want 1 and 1", prov.APIVersion, len(prov.Datasources))
	}
	ds := prov.Datasources[0]
	if ds.Type != grafanaPluginID || ds.UID == "" {
		t.Errorf("data source type %q uid %q, want type %s and a uid", ds.Type, ds.UID, grafanaPluginID)
	}
	// The plugin's settings (pkg/plugin/settings.go): host and port are required.
	if h, _ := ds.JSONData["host"].(string); h == "" {
		t.Error("data source: jsonData.host is empty")
	}
	if ds.JSONData["port"] != 8123 || ds.JSONData["protocol"] != "http" {
		t.Errorf("data source: port %v protocol %v, want ClickHouse's HTTP interface (8123, http)", ds.JSONData["port"], ds.JSONData["protocol"])
	}
	if db, _ := ds.JSONData["defaultDatabase"].(string); db == "" {
		t.Error("data source: jsonData.defaultDatabase is empty")
	}
	return ds.UID
}

// TestGrafanaDashboard: the dashboard is valid JSON, every panel has a target and reads the
// provisioned data source, every panel, annotation and variable has a check in testGrafana,
// and every query expands to SQL without anything left for Grafana.
func TestGrafanaDashboard(t *testing.T) {
	uid := grafanaDatasourceUID(t)
	d := loadGrafanaDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q title %q: both are needed", d.UID, d.Title)
	}
	ds := func(where string, got *grafanaDatasource) {
		t.Helper()
		if got == nil || got.Type != grafanaPluginID || got.UID != uid {
			t.Errorf("%s: data source %+v, want type %s uid %s (datasources/clickhouse.yaml)", where, got, grafanaPluginID, uid)
		}
	}
	panels := grafanaPanels(d.Panels)
	if len(panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	ids := map[int]bool{}
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.ID == 0 || ids[p.ID] {
				t.Errorf("panel %q: id %d is missing or used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" && len(p.Targets) > 0 {
				t.Errorf("row %q has queries", p.Title)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	titles := map[string]bool{}
	for _, p := range panels {
		if p.Title == "" || titles[p.Title] {
			t.Errorf("panel %d: title %q is empty or used twice (checks find panels by title)", p.ID, p.Title)
		}
		titles[p.Title] = true
		ds("panel "+p.Title, p.Datasource)
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			ds(fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Datasource)
			if tg.EditorType != "sql" || tg.RefID == "" || tg.Format == nil {
				t.Errorf("panel %q target %q: editorType %q format %v; want an SQL editor target with refId and format", p.Title, tg.RefID, tg.EditorType, tg.Format)
			}
		}
	}
	var annotations, variables int
	for _, a := range d.Annotations.List {
		if a.BuiltIn == 0 {
			annotations++
			ds("annotation "+a.Name, a.Datasource)
			if !a.Enable || a.Target.EditorType != "sql" {
				t.Errorf("annotation %q: enabled %v, editorType %q", a.Name, a.Enable, a.Target.EditorType)
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			variables++
			ds("variable "+v.Name, v.Datasource)
		}
	}
	if annotations == 0 || variables == 0 {
		t.Errorf("%d annotation queries and %d query variables; want the claims and the stream", annotations, variables)
	}

	checks := grafanaChecks(t, nil)
	keys := map[string]bool{}
	rg := grafanaRange{From: time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 8, 13, 1, 15, 0, 0, time.UTC), Interval: time.Minute}
	for _, q := range d.queries() {
		keys[q.key] = true
		if _, ok := checks[q.key]; !ok {
			t.Errorf("%s has no check in testGrafana (grafana_integration_test.go)", q.key)
		}
		if strings.TrimSpace(q.sql) == "" {
			t.Errorf("%s: empty query", q.key)
			continue
		}
		if _, err := grafanaExpand(q.sql, map[string]string{"stream": "x-space-2024-08-12-sim"}, rg); err != nil {
			t.Errorf("%s: %v", q.key, err)
		}
	}
	for k := range checks {
		if !keys[k] {
			t.Errorf("testGrafana checks %q, which the dashboard does not have", k)
		}
	}
}

// TestGrafanaProvisioning: the compose file mounts the provisioning where Grafana reads it and
// the dashboard where the provider looks, with the ClickHouse plugin installed.
func TestGrafanaProvisioning(t *testing.T) {
	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, grafanaPath("provisioning", "dashboards", "earshot.yaml"), &prov)
	if prov.APIVersion != 1 || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" || prov.Providers[0].Options.Path == "" {
		t.Fatalf("dashboards/earshot.yaml: %+v; want one file provider with a path", prov)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Ports       []string          `yaml:"ports"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	deploy := filepath.Join(testenv.RepoRoot(), "deploy")
	readYAML(t, filepath.Join(deploy, "compose.yaml"), &compose)
	g, ok := compose.Services["grafana"]
	if !ok {
		t.Fatal("deploy/compose.yaml has no grafana service")
	}
	if !strings.HasPrefix(g.Image, "grafana/grafana:") || !slices.Contains(g.Ports, "3000:3000") ||
		!slices.Contains(strings.Split(g.Environment["GF_INSTALL_PLUGINS"], ","), grafanaPluginID) {
		t.Errorf("grafana service: image %q ports %v GF_INSTALL_PLUGINS %q", g.Image, g.Ports, g.Environment["GF_INSTALL_PLUGINS"])
	}
	// Where each container path comes from (compose paths are relative to the compose file).
	source := func(container string) string {
		for _, v := range g.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && filepath.Clean(parts[1]) == filepath.Clean(container) {
				return filepath.Join(deploy, parts[0])
			}
		}
		return ""
	}
	if src := source("/etc/grafana/provisioning"); src != grafanaPath("provisioning") {
		t.Errorf("/etc/grafana/provisioning is mounted from %q, want deploy/grafana/provisioning", src)
	}
	src := source(prov.Providers[0].Options.Path)
	if src == "" {
		t.Fatalf("the provider reads %s, which the grafana service does not mount", prov.Providers[0].Options.Path)
	}
	if _, err := os.Stat(filepath.Join(src, "earshot.json")); err != nil {
		t.Errorf("the provider's directory (%s in the container) has no dashboard: %v", prov.Providers[0].Options.Path, err)
	}
	if _, err := os.Stat(grafanaPath("provisioning", "datasources", "clickhouse.yaml")); err != nil {
		t.Error(err)
	}
	if uid := grafanaDatasourceUID(t); uid != "earshot-clickhouse" {
		t.Errorf("data source uid %q: docs/grafana.md names earshot-clickhouse", uid)
	}
}

// TestGrafanaExpand: the stand-in for Grafana and the plugin substitutes what they would.
func TestGrafanaExpand(t *testing.T) {
	rg := grafanaRange{From: time.Unix(1723507200, 0), To: time.Unix(1723511700, 0), Interval: time.Minute}
	vars := map[string]string{"stream": "it's"}
	for in, want := range map[string]string{
		"stream_id = ${stream:sqlstring}":            "stream_id = 'it''s'",
		"stream_id = '$stream'":                      "stream_id = 'it's'",
		"stream_id = '${stream}'":                    "stream_id = 'it's'",
		"$__timeFilter(said_at)":                     "said_at >= toDateTime(1723507200) AND said_at <= toDateTime(1723511700)",
		"m >= toStartOfMinute($__fromTime)":          "m >= toStartOfMinute(toDateTime(1723507200))",
		"$__toTime_ms":                               "fromUnixTimestamp64Milli(1723511700000)",
		"$__timeInterval(toDateTime(t, 'UTC'))":      "toStartOfInterval(toDateTime(toDateTime(t, 'UTC')), INTERVAL 60 second)",
		"$__timeFilter(a) AND $__timeFilter(b)":      "a >= toDateTime(1723507200) AND a <= toDateTime(1723511700) AND b >= toDateTime(1723507200) AND b <= toDateTime(1723511700)",
		"$__conditionalAll(s IN ($stream), $stream)": "s IN (it's)",
	} {
		got, err := grafanaExpand(in, vars, rg)
		if err != nil || got != want {
			t.Errorf("%s: got %q (%v), want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"$__timeFilter_s(x)", "$__timeFilter(x", "$other", "${stream:csv}", "$__timeFilter(a, b)", "$__interval"} {
		if got, err := grafanaExpand(in, vars, rg); err == nil {
			t.Errorf("%s: expanded to %q, want an error", in, got)
		}
	}
	nested := []grafanaPanel{{Type: "row", Title: "r", Panels: []grafanaPanel{{Type: "stat", Title: "inner"}}}, {Type: "stat", Title: "outer"}}
	var got []string
	for _, p := range grafanaPanels(nested) {
		got = append(got, p.Title)
	}
	if !slices.Equal(got, []string{"inner", "outer"}) {
		t.Errorf("panels of a collapsed row: %v", got)
	}
}
