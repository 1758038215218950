package claims

import (
	"testing"
	"time"

	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sketch"
)

func testReport() *report.Stream {
	at := time.Date(2024, 8, 13, 1, 0, 0, 0, time.UTC)
	return &report.Stream{
		StreamID: "s", From: at, To: at.Add(2 * time.Minute),
		Minutes: []report.Minute{
			{Start: at, PeakConcurrent: 800, HasDisplayed: true, DisplayedMax: 1200},
			{Start: at.Add(time.Minute), PeakConcurrent: 900},
		},
		PeakConcurrent: 900, PeakConcurrentAt: at.Add(90 * time.Second), PeakHearing: 600,
		CumeConnected: sketch.Estimate(100_000), CumeHearing: sketch.Count{Value: 50, Lo: 50, Hi: 50, Exact: true},
		DisplayedMax: 1200,
	}
}

func TestVerdicts(t *testing.T) {
	r := testReport()
	at := time.Date(2024, 8, 13, 1, 0, 30, 0, time.UTC)
	cases := []struct {
		claim  Claim
		kind   string
		factor float64
	}{
		{Claim{ID: "a", StreamID: "s", ClaimedValue: 60_000, Metric: MetricConcurrent, SaidAt: at}, Overstated, 75}, // 60 000 / 800 in that minute
		{Claim{ID: "b", StreamID: "s", ClaimedValue: 900, Metric: MetricConcurrent}, Consistent, 1},                 // the stream's peak
		{Claim{ID: "c", StreamID: "s", ClaimedValue: 930, Metric: MetricConcurrent}, Consistent, 1},                 // within the 5 % tolerance
		{Claim{ID: "d", StreamID: "s", ClaimedValue: 450, Metric: MetricConcurrent}, Understated, 2},                // 900 / 450
		{Claim{ID: "e", StreamID: "s", ClaimedValue: 1200, Metric: MetricDisplayed}, Consistent, 1},                 // what the platform showed
		{Claim{ID: "f", StreamID: "s", ClaimedValue: 100_500, Metric: MetricCume}, Consistent, 1},                   // inside the sketch's interval
		{Claim{ID: "g", StreamID: "s", ClaimedValue: 1e6, Metric: MetricConcurrent, SaidAt: at.Add(time.Hour)}, NotMeasurable, 0},
	}
	for _, c := range cases {
		v := Check(c.claim, r, 0.05)
		if v.Kind != c.kind || (c.factor != 0 && (v.Factor < c.factor*0.999 || v.Factor > c.factor*1.001)) {
			t.Errorf("claim %s: %s ×%.3f, want %s ×%.3f", c.claim.ID, v.Kind, v.Factor, c.kind, c.factor)
		}
		if v.Kind != NotMeasurable && len(v.Context) != 6 {
			t.Errorf("claim %s: %d context figures", c.claim.ID, len(v.Context))
		}
	}
	if v := Check(Claim{ID: "x", StreamID: "s", ClaimedValue: 1, Metric: MetricCume}, nil, 0.05); v.Kind != NotMeasurable {
		t.Fatalf("no data: %s", v.Kind)
	}
	noDisplay := testReport()
	noDisplay.Minutes[0].HasDisplayed = false
	if v := Check(Claim{ID: "y", StreamID: "s", ClaimedValue: 1, Metric: MetricDisplayed}, noDisplay, 0.05); v.Kind != NotMeasurable {
		t.Fatalf("no displayed counter: %s", v.Kind)
	}
	if s := Check(cases[0].claim, r, 0.05).String(); s != "overstated by ×75.0" {
		t.Fatalf("String() = %q", s)
	}
}
