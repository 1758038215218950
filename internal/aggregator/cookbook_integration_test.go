package aggregator_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/testenv"
)

var cookbookQuery = regexp.MustCompile("(?s)```sql\n-- name: (\\w+)\n(.*?)```")

// cookbook returns the named queries of docs/sql.md.
func cookbook(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "sql.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range cookbookQuery.FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// testCookbook runs every query of docs/sql.md over the whole stream and checks it against
// the report (itself checked against the truth).
func testCookbook(t *testing.T, conn driver.Conn, st *sim.Stream, r *report.Stream) {
	t.Helper()
	qs := cookbook(t)
	want := []string{"per_minute_curve", "finality", "delivery", "any_range_distinct", "hourly", "peak", "aqh", "cume_tsl", "joined_not_hearing", "audit", "authenticated_share"}
	if len(qs) != len(want) {
		t.Fatalf("docs/sql.md has %d queries, the test knows %d: test every query", len(qs), len(want))
	}
	ctx := clickhouse.Context(context.Background(), clickhouse.WithParameters(clickhouse.Parameters{
		"stream": st.Scenario.StreamID, "from": r.From.Format(time.DateTime), "to": r.To.Format(time.DateTime)}))
	close := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 0.01*math.Max(want, 1) {
			t.Errorf("%s: SQL %.2f, report %.2f", name, got, want)
		}
	}

	rows, err := conn.Query(ctx, qs["per_minute_curve"])
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var at time.Time
		var c, clo, chi, h, hlo, hhi float64
		var peak, peakH, disp uint64
		if err := rows.Scan(&at, &c, &clo, &chi, &h, &hlo, &hhi, &peak, &peakH, &disp); err != nil {
			t.Fatal(err)
		}
		m, ok := r.At(at)
		if !ok || c != m.Connected.Value || h != m.Hearing.Value || peak != m.PeakConcurrent || disp != m.DisplayedMax || clo > c || chi < c {
			t.Errorf("per_minute_curve %s: %v %v %v %v vs report %+v", at, c, h, peak, disp, m)
		}
		n++
	}
	if n != len(r.Minutes) {
		t.Errorf("per_minute_curve: %d minutes, report %d", n, len(r.Minutes))
	}

	// The stream was ended: every minute is final, up to the last.
	var finalUntil, clock time.Time
	var provisional uint64
	if err := conn.QueryRow(ctx, qs["finality"]).Scan(&finalUntil, &provisional, &clock); err != nil {
		t.Fatal(err)
	}
	if !finalUntil.Equal(r.To) || provisional != 0 || clock.IsZero() || !r.FinalTo.Equal(r.To) {
		t.Errorf("finality: final until %s (report %s, %d provisional minutes), clock %s; the stream ends %s", finalUntil, r.FinalTo, provisional, clock, r.To)
	}
	var late, dup, tooLate uint64
	if err := conn.QueryRow(ctx, qs["delivery"]).Scan(&late, &dup, &tooLate); err != nil {
		t.Fatal(err)
	}
	if late != r.Late || dup != r.Duplicates || tooLate != r.TooLate || dup == 0 {
		t.Errorf("delivery: SQL %d/%d/%d, report %d/%d/%d (the simulation sends copies)", late, dup, tooLate, r.Late, r.Duplicates, r.TooLate)
	}

	var conn1, hear1, qual1 uint64
	var cLo, cHi, hLo, hHi, qLo, qHi float64
	if err := conn.QueryRow(ctx, qs["any_range_distinct"]).Scan(&conn1, &cLo, &cHi, &hear1, &hLo, &hHi, &qual1, &qLo, &qHi); err != nil {
		t.Fatal(err)
	}
	close("any_range_distinct connected", float64(conn1), r.CumeConnected.Value)
	close("any_range_distinct hearing", float64(hear1), r.CumeHearing.Value)
	close("any_range_distinct qualified", float64(qual1), r.CumeQualified.Value)
	// Counts up to 4 096 are exact in uniqCombined64 (its hash set), so is the interval.
	for _, x := range []struct {
		name      string
		v, lo, hi float64
	}{{"connected", float64(conn1), cLo, cHi}, {"hearing", float64(hear1), hLo, hHi}, {"qualified", float64(qual1), qLo, qHi}} {
		if x.v <= 4096 && (x.lo != x.v || x.hi != x.v) {
			t.Errorf("any_range_distinct %s: %v in [%v, %v], want an exact interval", x.name, x.v, x.lo, x.hi)
		}
	}
	// A range that is no stored window: the 20 minutes from the audio's start.
	from := st.Scenario.Start.Add(st.Scenario.AudioDelay)
	sub := clickhouse.Context(context.Background(), clickhouse.WithParameters(clickhouse.Parameters{
		"stream": st.Scenario.StreamID, "from": from.Format(time.DateTime), "to": from.Add(20 * time.Minute).Format(time.DateTime)}))
	if err := conn.QueryRow(sub, qs["any_range_distinct"]).Scan(&conn1, &cLo, &cHi, &hear1, &hLo, &hHi, &qual1, &qLo, &qHi); err != nil {
		t.Fatal(err)
	}
	rr, err := report.Load(context.Background(), conn, st.Scenario.StreamID, from, from.Add(20*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	close("any_range_distinct (20 min) connected", float64(conn1), rr.CumeConnected.Value)
	close("any_range_distinct (20 min) hearing", float64(hear1), rr.CumeHearing.Value)
	// A range starting inside a quarter hour with AQH persons counts that quarter in the
	// average, and so its persons too.
	var q0, last time.Time
	for q, n := range r.Quarters {
		if n > 0 && (q0.IsZero() || q.Before(q0)) {
			q0 = q
		}
	}
	for _, m := range r.Minutes {
		if m.Connected.Value > 0 {
			last = m.Start.Truncate(15 * time.Minute)
		}
	}
	if q0.IsZero() {
		t.Fatal("no quarter hour with AQH persons")
	}
	var sum float64
	quarters := 0
	for q := q0; !q.After(last); q = q.Add(15 * time.Minute) {
		sum += float64(r.Quarters[q])
		quarters++
	}
	mid, err := report.Load(context.Background(), conn, st.Scenario.StreamID, q0.Add(7*time.Minute), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := sum / float64(quarters); mid.AQHPersons != want {
		t.Errorf("AQH from 7 minutes into the %s quarter hour %.2f, want %.2f", q0.Format("15:04"), mid.AQHPersons, want)
	}

	rows, err = conn.Query(ctx, qs["hourly"])
	if err != nil {
		t.Fatal(err)
	}
	hours := 0
	for rows.Next() {
		var hour time.Time
		var hc, hh, hq, hpeak, hplayed uint64
		if err := rows.Scan(&hour, &hc, &hh, &hq, &hpeak, &hplayed); err != nil {
			t.Fatal(err)
		}
		from, to := maxTime(hour, r.From), minTime(hour.Add(time.Hour), r.To)
		hr, err := report.Load(context.Background(), conn, st.Scenario.StreamID, from, to)
		if err != nil {
			t.Fatal(err)
		}
		close("hourly connected "+hour.Format("15:04"), float64(hc), hr.CumeConnected.Value)
		close("hourly hearing "+hour.Format("15:04"), float64(hh), hr.CumeHearing.Value)
		if hpeak != hr.PeakConcurrent || hplayed != hr.PlayedMS {
			t.Errorf("hourly %s: peak %d played %d, report %d %d", hour, hpeak, hplayed, hr.PeakConcurrent, hr.PlayedMS)
		}
		hours++
	}
	if hours == 0 {
		t.Error("hourly: no rows")
	}

	var peak, peakH uint64
	var peakAt time.Time
	if err := conn.QueryRow(ctx, qs["peak"]).Scan(&peak, &peakAt, &peakH); err != nil {
		t.Fatal(err)
	}
	if peak != r.PeakConcurrent || peakH != r.PeakHearing || !peakAt.Equal(r.PeakConcurrentAt.Truncate(time.Minute)) {
		t.Errorf("peak: SQL %d at %s / %d, report %d at %s / %d", peak, peakAt, peakH, r.PeakConcurrent, r.PeakConcurrentAt, r.PeakHearing)
	}

	var aqh float64
	if err := conn.QueryRow(ctx, qs["aqh"]).Scan(&aqh); err != nil {
		t.Fatal(err)
	}
	close("aqh", aqh, r.AQHPersons)

	var cc, ch, cq uint64
	var tsl float64
	if err := conn.QueryRow(ctx, qs["cume_tsl"]).Scan(&cc, &ch, &cq, &tsl); err != nil {
		t.Fatal(err)
	}
	close("cume_connected", float64(cc), r.CumeConnected.Value)
	close("cume_hearing", float64(ch), r.CumeHearing.Value)
	close("cume_qualified", float64(cq), r.CumeQualified.Value)
	close("tsl", tsl, r.TSL.Seconds())

	rows, err = conn.Query(ctx, qs["joined_not_hearing"])
	if err != nil {
		t.Fatal(err)
	}
	n = 0
	for rows.Next() {
		var at time.Time
		var notHearing float64
		var failures, errs uint64
		var byCode map[string]uint64
		if err := rows.Scan(&at, &notHearing, &failures, &errs, &byCode); err != nil {
			t.Fatal(err)
		}
		m, _ := r.At(at)
		if notHearing != m.Connected.Value-m.Hearing.Value || failures != m.StartFailures || errs != m.Errors {
			t.Errorf("joined_not_hearing %s: %v %d %d, report %v %d %d", at, notHearing, failures, errs,
				m.Connected.Value-m.Hearing.Value, m.StartFailures, m.Errors)
		}
		var sum uint64
		for _, v := range byCode {
			sum += v
		}
		if sum != errs {
			t.Errorf("joined_not_hearing %s: errors by code sum to %d, not %d", at, sum, errs)
		}
		n++
	}
	if n != len(r.Minutes) {
		t.Errorf("joined_not_hearing: %d minutes, report %d", n, len(r.Minutes))
	}

	var exact, sk uint64
	if err := conn.QueryRow(ctx, qs["audit"]).Scan(&exact, &sk); err != nil {
		t.Fatal(err)
	}
	if float64(exact) != r.CumeConnected.Value || math.Abs(float64(sk)-float64(exact)) > 0.01*float64(exact) {
		t.Errorf("audit: exact %d, SQL sketch %d, earshot %v", exact, sk, r.CumeConnected)
	}

	var auth, connected uint64
	var pct float64
	if err := conn.QueryRow(ctx, qs["authenticated_share"]).Scan(&auth, &connected, &pct); err != nil {
		t.Fatal(err)
	}
	if auth != r.Authenticated || connected != r.Listed || float64(connected) != r.CumeConnected.Value {
		t.Errorf("authenticated_share: %d of %d; report %d of %d, cume connected %v", auth, connected, r.Authenticated, r.Listed, r.CumeConnected)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
