package aggregator_test

import (
	"context"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sim"
)

// grafanaWant is what testGrafana compares the dashboard's queries with.
type grafanaWant struct {
	stream string
	r      *report.Stream // over the dashboard's time range, checked against the truth
	claim  claims.Claim   // stored by the test, said inside the range
	claims int            // claims stored for the stream and said inside the range
}

type grafanaRow map[string]any

// testGrafana runs every query of the Grafana dashboard (deploy/grafana/dashboards/earshot.json)
// as Grafana and the ClickHouse plugin would send it, for the stream over its whole time range,
// and checks the numbers against the report (itself checked against the truth).
func testGrafana(t *testing.T, conn driver.Conn, st *sim.Stream, r *report.Stream) {
	t.Helper()
	ctx := context.Background()
	w := &grafanaWant{stream: st.Scenario.StreamID, r: r}
	// The simulation states no claims: store one, for the annotations.
	w.claim = claims.Claim{ID: "grafana-annotation-test", StreamID: w.stream, Claimant: "A. Claimant",
		Quote: "everybody is listening right now", ClaimedValue: 100000, Metric: claims.MetricConcurrent,
		SaidAt: r.From.Add(10 * time.Minute), SourceURL: "https://example.com/claim"}
	if err := claims.Store(ctx, conn, []claims.Claim{w.claim}); err != nil {
		t.Fatal(err)
	}
	stored, err := claims.ForStream(ctx, conn, w.stream)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range stored {
		if !c.SaidAt.IsZero() && !c.SaidAt.Before(r.From) && !c.SaidAt.After(r.To) {
			w.claims++
		}
	}

	d := loadGrafanaDashboard(t)
	checks := grafanaChecks(t, w)
	rg := grafanaRange{From: r.From, To: r.To, Interval: time.Minute}
	seen := map[string]bool{}
	for _, q := range d.queries() {
		check, ok := checks[q.key]
		if !ok {
			t.Errorf("%s has no check in testGrafana: check every panel", q.key)
			continue
		}
		seen[q.key] = true
		sql, err := grafanaExpand(q.sql, map[string]string{"stream": w.stream}, rg)
		if err != nil {
			t.Errorf("%s: %v", q.key, err)
			continue
		}
		rows, err := grafanaRun(ctx, conn, sql)
		if err != nil {
			t.Errorf("%s: %v\n%s", q.key, err, sql)
			continue
		}
		check(rows)
	}
	for k := range checks {
		if !seen[k] {
			t.Errorf("testGrafana checks %q, which the dashboard does not have", k)
		}
	}
}

// grafanaRun runs sql and returns its rows by column name, whatever the column types (a
// Nullable NULL is nil), as the plugin turns them into data frames.
func grafanaRun(ctx context.Context, conn driver.Conn, sql string) ([]grafanaRow, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []grafanaRow
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			if st := ct.ScanType(); st != nil {
				dest[i] = reflect.New(st).Interface()
			} else {
				dest[i] = new(any) // Nullable(Nothing): a bare NULL
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		row := grafanaRow{}
		for i, ct := range types {
			v := reflect.ValueOf(dest[i]).Elem()
			for v.Kind() == reflect.Pointer {
				if v.IsNil() {
					break
				}
				v = v.Elem()
			}
			if v.Kind() == reflect.Pointer {
				row[ct.Name()] = nil
			} else {
				row[ct.Name()] = v.Interface()
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// grafanaChecks has a check for every query of the dashboard, by grafanaQuery.key. With w nil
// it only names them (TestGrafanaDashboard).
func grafanaChecks(t *testing.T, w *grafanaWant) map[string]func([]grafanaRow) {
	var r *report.Stream
	if w != nil {
		r = w.r
	}
	// num reads a numeric column as float64 (exact for counts below 2^53).
	num := func(key string, row grafanaRow, col string) float64 {
		t.Helper()
		v, ok := row[col]
		if !ok {
			t.Errorf("%s: no column %s (columns %v)", key, col, columnNames(row))
			return math.NaN()
		}
		rv := reflect.ValueOf(v)
		switch {
		case v == nil:
			t.Errorf("%s: %s is NULL", key, col)
			return math.NaN()
		case rv.CanInt():
			return float64(rv.Int())
		case rv.CanUint():
			return float64(rv.Uint())
		case rv.CanFloat():
			return rv.Float()
		}
		t.Errorf("%s: %s is %T, not a number", key, col, v)
		return math.NaN()
	}
	at := func(key string, row grafanaRow, col string) time.Time {
		t.Helper()
		v, ok := row[col].(time.Time)
		if !ok {
			t.Errorf("%s: %s is %T, not a time", key, col, row[col])
		}
		return v.UTC()
	}
	// near: within 1 % (distinct counts: SQL merges uniqCombined64 states, earshot its own
	// sketches; exact counts are equal).
	near := func(key, what string, got, want float64) {
		t.Helper()
		if !(math.Abs(got-want) <= 0.01*math.Max(want, 1)) {
			t.Errorf("%s: %s %.2f, report %.2f", key, what, got, want)
		}
	}
	equal := func(key, what string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %s %v, report %v", key, what, got, want)
		}
	}
	// perMinute checks a per-minute series: one row per minute of the report, in order.
	perMinute := func(key string, rows []grafanaRow, each func(row grafanaRow, m report.Minute)) {
		t.Helper()
		if len(rows) != len(r.Minutes) {
			t.Errorf("%s: %d minutes, report %d", key, len(rows), len(r.Minutes))
		}
		var prev time.Time
		for _, row := range rows {
			minute := at(key, row, "minute")
			if !minute.After(prev) {
				t.Errorf("%s: minute %s after %s: not in time order", key, minute, prev)
			}
			prev = minute
			m, ok := r.At(minute)
			if !ok || !m.Start.Equal(minute) {
				t.Errorf("%s: minute %s is not in the report", key, minute)
				continue
			}
			each(row, m)
		}
	}
	one := func(key string, rows []grafanaRow) grafanaRow {
		t.Helper()
		if len(rows) != 1 {
			t.Errorf("%s: %d rows, want 1", key, len(rows))
			return grafanaRow{}
		}
		return rows[0]
	}
	band := func(key string, row grafanaRow, m report.Minute, name string) {
		t.Helper()
		want := map[string]struct{ v, lo, hi float64 }{
			"connected": {m.Connected.Value, m.Connected.Lo, m.Connected.Hi},
			"hearing":   {m.Hearing.Value, m.Hearing.Lo, m.Hearing.Hi},
		}[name]
		v, lo, hi := num(key, row, name), num(key, row, name+"_lo"), num(key, row, name+"_hi")
		what := name + " " + m.Start.Format("15:04")
		near(key, what, v, want.v)
		near(key, what+" 95 % low", lo, want.lo)
		near(key, what+" 95 % high", hi, want.hi)
		if !(lo <= v && v <= hi) {
			t.Errorf("%s: %s %.2f outside its band [%.2f, %.2f]", key, what, v, lo, hi)
		}
	}

	return map[string]func([]grafanaRow){
		"panel: Connected and hearing per minute": func(rows []grafanaRow) {
			const key = "curve"
			perMinute(key, rows, func(row grafanaRow, m report.Minute) {
				band(key, row, m, "connected")
				band(key, row, m, "hearing")
			})
		},
		"panel: Peak concurrent": func(rows []grafanaRow) {
			const key = "peak"
			row := one(key, rows)
			equal(key, "peak concurrent", num(key, row, "peak_concurrent"), float64(r.PeakConcurrent))
			equal(key, "peak concurrent hearing", num(key, row, "peak_concurrent_hearing"), float64(r.PeakHearing))
			// A minute holding the peak second (with a plateau, any of them).
			if m, ok := r.At(at(key, row, "peak_minute")); !ok || m.PeakConcurrent != r.PeakConcurrent {
				t.Errorf("%s: peak minute %s has peak %d, the stream's is %d (at %s)", key, row["peak_minute"], m.PeakConcurrent, r.PeakConcurrent, r.PeakConcurrentAt)
			}
		},
		"panel: Cume and TSL": func(rows []grafanaRow) {
			const key = "cume"
			row := one(key, rows)
			near(key, "cume connected", num(key, row, "cume_connected"), r.CumeConnected.Value)
			near(key, "cume hearing", num(key, row, "cume_hearing"), r.CumeHearing.Value)
			near(key, "cume qualified", num(key, row, "cume_qualified"), r.CumeQualified.Value)
			near(key, "TSL (s)", num(key, row, "tsl_seconds"), r.TSL.Seconds())
		},
		"panel: AQH persons": func(rows []grafanaRow) {
			const key = "aqh"
			got := num(key, one(key, rows), "aqh_persons")
			if !(math.Abs(got-r.AQHPersons) <= 1e-9*math.Max(r.AQHPersons, 1)) || r.AQHPersons == 0 {
				t.Errorf("%s: AQH persons %v, report %v", key, got, r.AQHPersons)
			}
		},
		"panel: Start failures per minute": func(rows []grafanaRow) {
			const key = "start failures per minute"
			var sum float64
			perMinute(key, rows, func(row grafanaRow, m report.Minute) {
				what := " " + m.Start.Format("15:04")
				equal(key, "start failures"+what, num(key, row, "start_failures"), float64(m.StartFailures))
				equal(key, "errors"+what, num(key, row, "errors"), float64(m.Errors))
				near(key, "connected not hearing"+what, num(key, row, "connected_not_hearing"), m.Connected.Value-m.Hearing.Value)
				sum += num(key, row, "start_failures")
			})
			equal(key, "start failures summed", sum, float64(r.StartFailures))
		},
		"panel: Start failures (total)": func(rows []grafanaRow) {
			const key = "start failures (total)"
			row := one(key, rows)
			equal(key, "joins", num(key, row, "joins"), float64(r.Joins))
			equal(key, "start failures", num(key, row, "start_failures"), float64(r.StartFailures))
			if r.StartFailures == 0 || r.Joins == 0 {
				t.Errorf("%s: the simulation has listeners who never hear: %d joins, %d start failures", key, r.Joins, r.StartFailures)
			} else if pct, want := num(key, row, "start_failures_pct"), 100*float64(r.StartFailures)/float64(r.Joins); math.Abs(pct-want) > 0.05+1e-9 {
				t.Errorf("%s: %.1f %% of joins, report %.3f %%", key, pct, want)
			}
		},
		"panel: Displayed vs measured": func(rows []grafanaRow) {
			const key = "displayed vs measured"
			var shown uint64
			var minutes int
			perMinute(key, rows, func(row grafanaRow, m report.Minute) {
				what := " " + m.Start.Format("15:04")
				if v, ok := row["displayed_max"]; !ok || (v == nil) == m.HasDisplayed {
					t.Errorf("%s: displayed%s %v, report %v (shown %v)", key, what, v, m.DisplayedMax, m.HasDisplayed)
				} else if v != nil {
					d := num(key, row, "displayed_max")
					equal(key, "displayed"+what, d, float64(m.DisplayedMax))
					shown = max(shown, uint64(d))
					minutes++
				}
				equal(key, "peak concurrent"+what, num(key, row, "peak_concurrent"), float64(m.PeakConcurrent))
				near(key, "connected"+what, num(key, row, "connected"), m.Connected.Value)
				near(key, "hearing"+what, num(key, row, "hearing"), m.Hearing.Value)
			})
			if minutes == 0 || shown != r.DisplayedMax {
				t.Errorf("%s: displayed max %d over %d minutes, report %d (the simulated platform shows a counter)", key, shown, minutes, r.DisplayedMax)
			}
		},
		"annotation: Claims": func(rows []grafanaRow) {
			const key = "claims annotation"
			if len(rows) != w.claims {
				t.Errorf("%s: %d annotations, %d claims stored for the stream in its time range", key, len(rows), w.claims)
			}
			c := w.claim
			found := false
			for _, row := range rows {
				if !at(key, row, "time").Equal(c.SaidAt.UTC()) {
					continue
				}
				text, _ := row["text"].(string)
				found = true
				for _, part := range []string{c.Claimant, c.Quote, "100000", c.Metric} {
					if !strings.Contains(text, part) {
						t.Errorf("%s: text %q does not say %q", key, text, part)
					}
				}
				if row["tags"] != c.Metric {
					t.Errorf("%s: tags %v, want the metric %s", key, row["tags"], c.Metric)
				}
			}
			if !found {
				t.Errorf("%s: no annotation at %s for the stored claim", key, c.SaidAt)
			}
		},
		"variable: stream": func(rows []grafanaRow) {
			const key = "stream variable"
			var ids []string
			for _, row := range rows {
				id, _ := row["stream_id"].(string)
				ids = append(ids, id)
			}
			if !slices.Contains(ids, w.stream) {
				t.Errorf("%s: %v, without the stream %s", key, ids, w.stream)
			}
		},
	}
}

func columnNames(row grafanaRow) []string {
	var out []string
	for k := range row {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
