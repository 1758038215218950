package aggregator_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/render"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/testenv"
)

// testResult reads the finished stream back as the result every output draws from, with
// claims stored through the engine, and checks it against the report (itself checked against
// the truth): the same figures, verdicts by the SPEC's rules, JSON that validates against the
// published schema.
func testResult(t *testing.T, conn driver.Conn, st *sim.Stream, r *report.Stream) {
	t.Helper()
	ctx := context.Background()
	stream := st.Scenario.StreamID
	// The peak minute, and a claim 60 times its peak second at that minute.
	var peak report.Minute
	for _, m := range r.Minutes {
		if m.PeakConcurrent > peak.PeakConcurrent {
			peak = m
		}
	}
	said := peak.Start.Add(30 * time.Second)
	cs := []claims.Claim{
		{ID: "it-60x", StreamID: stream, Claimant: "a host", Quote: "<b>60×</b> are listening", Metric: claims.MetricConcurrent,
			ClaimedValue: 60 * float64(peak.PeakConcurrent), SaidAt: said},
		{ID: "it-exact", StreamID: stream, Claimant: "earshot", Metric: claims.MetricConcurrent, ClaimedValue: float64(peak.PeakConcurrent), SaidAt: said},
		{ID: "it-nodata", StreamID: stream, Metric: claims.MetricConcurrent, ClaimedValue: 5, SaidAt: r.To.Add(time.Hour)},
	}
	if err := claims.Store(ctx, conn, cs); err != nil {
		t.Fatal(err)
	}
	// Storing the same claims again keeps one row per id (the table replaces by claim_id).
	if err := claims.Store(ctx, conn, cs); err != nil {
		t.Fatal(err)
	}
	res, err := result.Load(ctx, conn, stream, time.Time{}, time.Time{}, result.Tolerance)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusFinal || len(res.Minutes) != len(r.Minutes) || res.Totals.PeakConcurrent.Value != r.PeakConcurrent ||
		res.Totals.CumeConnected.Value != r.CumeConnected.Value || res.Totals.AQHPersons != r.AQHPersons {
		t.Errorf("result differs from the report: %s, %d minutes, peak %d, cume %.0f", res.Status, len(res.Minutes),
			res.Totals.PeakConcurrent.Value, res.Totals.CumeConnected.Value)
	}
	byID := map[string]result.Verdict{}
	for _, v := range res.Claims {
		byID[v.Claim.ID] = v
	}
	if len(byID) != len(res.Claims) {
		t.Fatalf("%d verdicts for %d distinct claims: claims stored twice are kept twice", len(res.Claims), len(byID))
	}
	for _, c := range cs {
		if _, ok := byID[c.ID]; !ok {
			t.Fatalf("no verdict for claim %s", c.ID)
		}
	}
	v := byID["it-60x"]
	if v.Verdict != claims.Overstated || v.Factor == nil || math.Abs(*v.Factor-60) > 1e-9 {
		t.Errorf("60× claim: %s %v", v.Verdict, v.Factor)
	}
	wantStart := fmt.Sprintf("At %s, %s listeners (exact) were connected and %s could hear; the claim of %s is overstated ×60",
		peak.Start.Format("15:04 UTC"), result.Int(float64(peak.PeakConcurrent)), result.Int(float64(peak.PeakHearing)), result.Int(60*float64(peak.PeakConcurrent)))
	if !strings.HasPrefix(v.Sentence, wantStart) {
		t.Errorf("sentence %q\nwant it to start %q", v.Sentence, wantStart)
	}
	if v := byID["it-exact"]; v.Verdict != claims.Consistent {
		t.Errorf("the measured peak itself: %s", v.Verdict)
	}
	if v := byID["it-nodata"]; v.Verdict != claims.NotMeasurable {
		t.Errorf("a claim after the stream: %s", v.Verdict)
	}
	// The simulated platform counter shows the listeners who ever joined × DisplayedFactor: the
	// forensics must name that series and factor from the rows alone.
	if c := res.DisplayedCounter; c == nil || c.Best == nil || c.Best.Series != "cumulative_joins" ||
		math.Abs(c.Best.Factor/st.Scenario.DisplayedFactor-1) > 0.03 {
		t.Errorf("displayed counter of joins × %.2f: %+v", st.Scenario.DisplayedFactor, c)
	} else {
		t.Logf("displayed counter: %s", c.Summary)
	}
	// A range that does not hold the claims' minute: the totals and minutes are the range's,
	// the verdicts still the whole stream's (docs/report.md).
	from := r.To.Add(-5 * time.Minute)
	if !peak.Start.Before(from) {
		from = r.From
	}
	part, err := result.Load(ctx, conn, stream, from, from.Add(5*time.Minute), result.Tolerance)
	if err != nil {
		t.Fatal(err)
	}
	pv := map[string]result.Verdict{}
	for _, v := range part.Claims {
		pv[v.Claim.ID] = v
	}
	if len(part.Minutes) != 5 || pv["it-60x"].Verdict != claims.Overstated || pv["it-60x"].Sentence != byID["it-60x"].Sentence ||
		pv["it-exact"].Verdict != claims.Consistent {
		t.Errorf("range %s: %d minutes, verdicts %s / %s", from, len(part.Minutes), pv["it-60x"].Verdict, pv["it-exact"].Verdict)
	}
	var out bytes.Buffer
	if err := render.JSON(&out, res); err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join(testenv.RepoRoot(), "docs", "report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(&out)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Error(err)
	}
}
