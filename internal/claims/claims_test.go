package claims

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sketch"
)

// The expectations in this file are worked out by hand from SPEC ("Claims and verdicts") and
// Check's documented rule, not taken from running the code: a claim is consistent when it lies
// in [lo·(1−tolerance), hi·(1+tolerance)] of the measured figure's 95 % interval; above it, it
// is overstated by claimed/hi; below it, understated by lo/claimed.

var t0 = time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)

func exactCount(v float64) sketch.Count { return sketch.Count{Value: v, Lo: v, Hi: v, Exact: true} }

// stream is a small report made by hand: minutes 00:00, 00:01 and 00:03 (none at 00:02), peak
// connected 1000 at 00:01:30, displayed counter seen at 00:00 (max 2000), cume connected an
// estimate 10 000 (95 %: 9 800–10 200).
func stream() *report.Stream {
	return &report.Stream{
		StreamID: "s", From: t0, To: t0.Add(4 * time.Minute),
		Minutes: []report.Minute{
			{Start: t0, PeakConcurrent: 600, PeakHearing: 500, HasDisplayed: true, DisplayedMax: 2000},
			{Start: t0.Add(time.Minute), PeakConcurrent: 1000, PeakHearing: 700},
			{Start: t0.Add(3 * time.Minute), PeakConcurrent: 400, PeakHearing: 300},
		},
		PeakConcurrent: 1000, PeakConcurrentAt: t0.Add(90 * time.Second), PeakHearing: 700, PeakHearingAt: t0.Add(95 * time.Second),
		CumeConnected: sketch.Count{Value: 10_000, Lo: 9_800, Hi: 10_200},
		CumeHearing:   exactCount(6_000),
		CumeQualified: exactCount(3_000),
		DisplayedMax:  2000, DisplayedMaxAt: t0.Add(30 * time.Second),
	}
}

func claim(metric string, v float64) Claim {
	return Claim{ID: "c", StreamID: "s", Metric: metric, ClaimedValue: v}
}

func said(c Claim, at time.Time) Claim { c.SaidAt = at; return c }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

func TestCheckRules(t *testing.T) {
	cases := []struct {
		name      string
		claim     Claim
		tolerance float64
		kind      string
		factor    float64 // 0: undefined (see Verdict.Factor)
		measured  float64 // the measured figure's value
		str       string  // Verdict.String(), when not ""
	}{
		// Peak concurrent 1000, exact: consistent in [950, 1050] at 5 %.
		{"the measured peak", claim(MetricConcurrent, 1000), 0.05, Consistent, 1, 1000, "consistent (within the 95% interval ± 5%)"},
		{"at the top of the tolerance", claim(MetricConcurrent, 1050), 0.05, Consistent, 1, 1000, ""},
		{"at the bottom of the tolerance", claim(MetricConcurrent, 950), 0.05, Consistent, 1, 1000, ""},
		{"just above the tolerance", claim(MetricConcurrent, 1051), 0.05, Overstated, 1.051, 1000, "overstated by ×1.1"},
		{"just below the tolerance", claim(MetricConcurrent, 949), 0.05, Understated, 1000.0 / 949, 1000, "understated by ×1.1"},
		{"twice the peak", claim(MetricConcurrent, 2000), 0.05, Overstated, 2, 1000, "overstated by ×2.0"},
		{"a quarter of the peak", claim(MetricConcurrent, 250), 0.05, Understated, 4, 1000, "understated by ×4.0"},
		{"no tolerance, one more", claim(MetricConcurrent, 1001), 0, Overstated, 1.001, 1000, ""},
		{"no tolerance, one less", claim(MetricConcurrent, 999), 0, Understated, 1000.0 / 999, 1000, ""},
		{"a fraction of a listener", claim(MetricConcurrent, 0.5), 0.05, Understated, 2000, 1000, "understated by ×2000.0"},
		{"claimed 0", claim(MetricConcurrent, 0), 0.05, Understated, 0, 1000, "understated: claimed 0, measured 1000"},

		// Said at 00:00:59: the peak of minute 00:00 (600), not of the stream; at 00:01:00, 1000.
		{"said in a minute with data", said(claim(MetricConcurrent, 600), t0.Add(59*time.Second)), 0.05, Consistent, 1, 600, ""},
		{"said in a minute with data, overstated", said(claim(MetricConcurrent, 1000), t0.Add(59*time.Second)), 0.05, Overstated, 1000.0 / 600, 600, ""},
		{"said at the start of a minute", said(claim(MetricConcurrent, 1000), t0.Add(time.Minute)), 0.05, Consistent, 1, 1000, ""},
		{"said in another zone", said(claim(MetricConcurrent, 400), t0.Add(3*time.Minute+10*time.Second).In(time.FixedZone("CEST", 2*3600))), 0.05, Consistent, 1, 400, ""},
		{"said in a minute without data", said(claim(MetricConcurrent, 1000), t0.Add(2*time.Minute+30*time.Second)), 0.05, NotMeasurable, 0, 0, ""},
		{"said before the stream", said(claim(MetricConcurrent, 1000), t0.Add(-time.Second)), 0.05, NotMeasurable, 0, 0, ""},
		{"said after the stream", said(claim(MetricConcurrent, 1000), t0.Add(time.Hour)), 0.05, NotMeasurable, 0, 0, ""},

		// Cume connected is an estimate, 9 800–10 200: consistent in [9 310, 10 710] at 5 %.
		{"cume at the estimate", claim(MetricCume, 10_000), 0.05, Consistent, 1, 10_000, ""},
		{"cume inside the interval", claim(MetricCume, 10_150), 0, Consistent, 1, 10_000, ""},
		{"cume at the interval's top", claim(MetricCume, 10_200), 0, Consistent, 1, 10_000, ""},
		{"cume above the interval", claim(MetricCume, 10_201), 0, Overstated, 10_201.0 / 10_200, 10_000, ""},
		{"cume within the tolerance", claim(MetricCume, 10_710), 0.05, Consistent, 1, 10_000, ""},
		{"cume above the tolerance", claim(MetricCume, 20_400), 0.05, Overstated, 2, 10_000, "overstated by ×2.0"},
		{"cume below the interval", claim(MetricCume, 9_310), 0.05, Consistent, 1, 10_000, ""},
		{"cume below the tolerance", claim(MetricCume, 4_900), 0.05, Understated, 2, 10_000, "understated by ×2.0"},

		// The displayed counter peaked at 2000; it was seen only in minute 00:00.
		{"the displayed figure", claim(MetricDisplayed, 2000), 0.05, Consistent, 1, 2000, ""},
		{"the displayed figure, rounded up", claim(MetricDisplayed, 2100), 0.05, Consistent, 1, 2000, ""},
		{"twice the displayed figure", claim(MetricDisplayed, 4000), 0.05, Overstated, 2, 2000, ""},
		{"displayed, said in a minute the counter was not shown", said(claim(MetricDisplayed, 2000), t0.Add(3*time.Minute)), 0.05, NotMeasurable, 0, 0, ""},

		// Claims Check cannot weigh.
		{"an unknown metric", claim("views", 1000), 0.05, NotMeasurable, 0, 0, ""},
		{"claimed NaN", claim(MetricConcurrent, math.NaN()), 0.05, NotMeasurable, 0, 0, ""},
		{"claimed +Inf", claim(MetricConcurrent, math.Inf(1)), 0.05, NotMeasurable, 0, 0, ""},
		{"claimed a negative number", claim(MetricConcurrent, -1000), 0.05, NotMeasurable, 0, 0, ""},
	}
	for _, tc := range cases {
		v := Check(tc.claim, stream(), tc.tolerance)
		if v.Kind != tc.kind || !near(v.Factor, tc.factor) {
			t.Errorf("%s: %s ×%v, want %s ×%v (%s)", tc.name, v.Kind, v.Factor, tc.kind, tc.factor, v)
		}
		if v.Kind != NotMeasurable && v.Measured.Count.Value != tc.measured {
			t.Errorf("%s: measured %v (%s), want %v", tc.name, v.Measured.Count.Value, v.Measured.Name, tc.measured)
		}
		if v.Kind == NotMeasurable && v.Reason == "" {
			t.Errorf("%s: not measurable without a reason", tc.name)
		}
		if tc.str != "" && v.String() != tc.str {
			t.Errorf("%s: String() = %q, want %q", tc.name, v, tc.str)
		}
		if v.Tolerance != tc.tolerance || v.Claim.ClaimedValue != tc.claim.ClaimedValue && !math.IsNaN(tc.claim.ClaimedValue) {
			t.Errorf("%s: verdict does not carry its claim and tolerance: %+v", tc.name, v)
		}
	}
}

func TestCheckZeroes(t *testing.T) {
	r := stream()
	r.Minutes[1].PeakConcurrent, r.PeakConcurrent = 0, 0
	// Nobody connected in minute 00:01: a claim of 0 is right, any other is overstated by a
	// factor that does not exist (x/0), and says so instead.
	if v := Check(said(claim(MetricConcurrent, 0), t0.Add(time.Minute)), r, 0.05); v.Kind != Consistent {
		t.Errorf("0 of 0: %s", v)
	}
	v := Check(said(claim(MetricConcurrent, 5), t0.Add(time.Minute)), r, 0.05)
	if v.Kind != Overstated || v.Factor != 0 || v.String() != "overstated: claimed 5, measured 0" {
		t.Errorf("5 of 0: %s ×%v %q", v.Kind, v.Factor, v)
	}
	// An estimate's lower bound: understated "by at least" it.
	v = Check(claim(MetricCume, 0), r, 0.05)
	if v.Kind != Understated || v.Factor != 0 || v.String() != "understated: claimed 0, measured 9800–10200" {
		t.Errorf("0 of the cume: %s ×%v %q", v.Kind, v.Factor, v)
	}
}

func TestCheckNoData(t *testing.T) {
	c := claim(MetricCume, 1)
	if v := Check(c, nil, 0.05); v.Kind != NotMeasurable || v.Context != nil || v.String() != "not measurable: no data for this stream" {
		t.Errorf("nil report: %q %+v", v, v.Context)
	}
	if v := Check(c, &report.Stream{StreamID: "s"}, 0.05); v.Kind != NotMeasurable {
		t.Errorf("report without minutes: %s", v)
	}
	noDisplay := stream()
	noDisplay.Minutes[0].HasDisplayed = false
	v := Check(claim(MetricDisplayed, 2000), noDisplay, 0.05)
	if v.Kind != NotMeasurable || !strings.Contains(v.Reason, "displayed counter was not reported") {
		t.Errorf("no displayed counter: %s", v)
	}
	v = Check(said(claim(MetricConcurrent, 1000), t0.Add(2*time.Minute)), stream(), 0.05)
	if v.String() != "not measurable: no measurement in the minute the claim was made (2024-08-13T00:02:00Z)" {
		t.Errorf("minute without data: %q", v)
	}
}

// TestCheckMeasuredFigure: which figure a claim is compared with, and the context shown with it.
func TestCheckMeasuredFigure(t *testing.T) {
	r := stream()
	v := Check(said(claim(MetricConcurrent, 1), t0.Add(70*time.Second)), r, 0.05)
	if v.Measured.Name != "peak concurrent connected in the minute of the claim" || v.Measured.Note != "00:01 UTC" || !v.Measured.Count.Exact {
		t.Errorf("minute figure %+v", v.Measured)
	}
	v = Check(claim(MetricConcurrent, 1), r, 0.05)
	if v.Measured.Name != "peak concurrent connected" || v.Measured.Note != "at 00:01:30 UTC" {
		t.Errorf("stream figure %+v", v.Measured)
	}
	v = Check(claim(MetricCume, 1), r, 0.05)
	if v.Measured.Name != "cume connected" || v.Measured.Count != r.CumeConnected {
		t.Errorf("cume figure %+v", v.Measured)
	}
	want := []struct {
		name  string
		count sketch.Count
	}{
		{"displayed by the platform (max)", exactCount(2000)},
		{"peak concurrent connected", exactCount(1000)},
		{"peak concurrent hearing", exactCount(700)},
		{"cume connected", sketch.Count{Value: 10_000, Lo: 9_800, Hi: 10_200}},
		{"cume hearing", exactCount(6_000)},
		{"cume qualified", exactCount(3_000)},
	}
	if len(v.Context) != len(want) {
		t.Fatalf("%d context figures", len(v.Context))
	}
	for i, w := range want {
		if v.Context[i].Name != w.name || v.Context[i].Count != w.count {
			t.Errorf("context %d: %+v, want %s %+v", i, v.Context[i], w.name, w.count)
		}
	}
}

// TestMotivatingCase is the case earshot was written for (the X Space of 2024-08-12): the
// platform displayed about 1.2 million listeners, and on air it was said that 60 million were
// listening. Say earshot measured a peak of 821 000 connected (640 000 hearing): the 60 million
// are overstated by 60 000 000 / 821 000 = ×73.08…, while "1.2 million", as a displayed figure,
// is what the platform showed.
func TestMotivatingCase(t *testing.T) {
	start := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	r := &report.Stream{
		StreamID: "x-space", From: start, To: start.Add(3 * time.Minute),
		Minutes: []report.Minute{
			{Start: start, PeakConcurrent: 700_000, PeakHearing: 550_000, HasDisplayed: true, DisplayedMax: 1_100_000},
			{Start: start.Add(time.Minute), PeakConcurrent: 821_000, PeakHearing: 640_000, HasDisplayed: true, DisplayedMax: 1_200_000},
			{Start: start.Add(2 * time.Minute), PeakConcurrent: 790_000, PeakHearing: 600_000, HasDisplayed: true, DisplayedMax: 1_150_000},
		},
		PeakConcurrent: 821_000, PeakConcurrentAt: start.Add(75 * time.Second), PeakHearing: 640_000, PeakHearingAt: start.Add(80 * time.Second),
		CumeConnected: sketch.Count{Value: 2_000_000, Lo: 1_960_000, Hi: 2_040_000},
		CumeHearing:   sketch.Count{Value: 1_500_000, Lo: 1_470_000, Hi: 1_530_000},
		CumeQualified: sketch.Count{Value: 1_000_000, Lo: 980_000, Hi: 1_020_000},
		DisplayedMax:  1_200_000, DisplayedMaxAt: start.Add(70 * time.Second),
	}
	sixty := Claim{ID: "trump-60m", StreamID: "x-space", Quote: "60 million people are listening", ClaimedValue: 60e6, Metric: MetricConcurrent}
	for _, c := range []Claim{sixty, said(sixty, start.Add(100*time.Second))} { // the stream's peak, or that of minute 00:01: both 821 000
		v := Check(c, r, 0.05)
		if v.Kind != Overstated || !near(v.Factor, 60e6/821_000) || v.String() != "overstated by ×73.1" {
			t.Errorf("60 million listening (said at %v): %s ×%v %q", c.SaidAt, v.Kind, v.Factor, v)
		}
		if v.Measured.Count.Value != 821_000 || v.Context[0].Count.Value != 1_200_000 || v.Context[2].Count.Value != 640_000 {
			t.Errorf("figures: measured %v, context %+v", v.Measured.Count, v.Context)
		}
	}
	// Said in minute 00:00, when 700 000 were connected: 60 000 000 / 700 000 = ×85.71…
	if v := Check(said(sixty, start.Add(10*time.Second)), r, 0.05); v.Kind != Overstated || !near(v.Factor, 60e6/700_000) || v.String() != "overstated by ×85.7" {
		t.Errorf("60 million at 00:00: %s ×%v", v.Kind, v.Factor)
	}
	// The same number as a cume ("60 million listened"): 60 000 000 / 2 040 000 = ×29.41…
	if v := Check(claim(MetricCume, 60e6), r, 0.05); v.Kind != Overstated || !near(v.Factor, 60e6/2_040_000) {
		t.Errorf("60 million listened: %s ×%v", v.Kind, v.Factor)
	}

	displayed := Claim{ID: "musk-1.2m", StreamID: "x-space", Quote: "1.2 million listeners", ClaimedValue: 1_200_000, Metric: MetricDisplayed}
	if v := Check(displayed, r, 0.05); v.Kind != Consistent || v.Measured.Count.Value != 1_200_000 {
		t.Errorf("1.2 million displayed, 1 200 000 shown: %s", v)
	}
	// The counter peaked at 1 213 000: "1.2 million" is 1.07 % under it, within the 5 %
	// (1 213 000 × 0.95 = 1 152 350 ≤ 1 200 000) ...
	r.DisplayedMax, r.Minutes[1].DisplayedMax = 1_213_000, 1_213_000
	if v := Check(displayed, r, 0.05); v.Kind != Consistent || v.Measured.Count.Value != 1_213_000 {
		t.Errorf("1.2 million displayed, 1 213 000 shown: %s", v)
	}
	// ... and without a tolerance, understated by 1 213 000 / 1 200 000 = ×1.0108…
	if v := Check(displayed, r, 0); v.Kind != Understated || !near(v.Factor, 1_213_000.0/1_200_000) {
		t.Errorf("1.2 million displayed, no tolerance: %s ×%v", v.Kind, v.Factor)
	}
	// "1.2 million" as concurrent listeners: 1 200 000 / 821 000 = ×1.46…
	if v := Check(claim(MetricConcurrent, 1.2e6), r, 0.05); v.Kind != Overstated || !near(v.Factor, 1.2e6/821_000) {
		t.Errorf("1.2 million concurrent: %s ×%v", v.Kind, v.Factor)
	}
}
