package result

import (
	"testing"
	"time"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sketch"
)

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Int(60_000_000), "60 000 000"}, {Int(821), "821"}, {Int(1000), "1 000"}, {Int(999.6), "1 000"}, {Int(0), "0"}, {Int(-1234), "-1 234"},
		{Short(1_213_000), "1.2M"}, {Short(1_000_000), "1M"}, {Short(45_300), "45.3K"}, {Short(9_999), "9 999"}, {Short(2.5e9), "2.5B"},
		{Factor(1.4), "×1.4"}, {Factor(48.2), "×48"}, {Factor(73_082), "×73 000"}, {Factor(146), "×150"}, {Factor(73.08), "×73"},
		{Amount(Count{Value: 821, Lo: 821, Hi: 821, Exact: true}, "listeners"), "821 listeners (exact)"},
		{Amount(Count{Value: 1_234_000, Lo: 1_230_000, Hi: 1_238_000}, "listeners"), "1 234 000 listeners (95 % 1 230 000–1 238 000)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// night is the motivating case by hand: at 01:00 UTC 821 listeners were connected at the peak
// second of the minute and 640 heard audio, while the platform showed 1.2M.
func night() *report.Stream {
	at := time.Date(2024, 8, 13, 1, 0, 0, 0, time.UTC)
	ex := func(v float64) sketch.Count { return sketch.Count{Value: v, Lo: v, Hi: v, Exact: true} }
	return &report.Stream{StreamID: "space", From: at.Add(-time.Minute), To: at.Add(time.Minute),
		Minutes: []report.Minute{
			{Start: at.Add(-time.Minute), Connected: ex(500), PeakConcurrent: 600, PeakHearing: 0, Final: true},
			{Start: at, Connected: ex(800), Hearing: ex(630), PeakConcurrent: 821, PeakHearing: 640, Final: true,
				HasDisplayed: true, DisplayedMax: 1_213_000, DisplayedLast: 1_200_000},
		},
		PeakConcurrent: 821, PeakConcurrentAt: at.Add(17 * time.Second), PeakHearing: 640, PeakHearingAt: at.Add(20 * time.Second),
		CumeConnected: sketch.Count{Value: 5_012, Lo: 4_990, Hi: 5_034}, CumeHearing: ex(700), CumeQualified: ex(400),
		DisplayedMax: 1_213_000, DisplayedMaxAt: at, FinalTo: at.Add(time.Minute)}
}

// TestSentences: each verdict's sentence, written by hand from SPEC ("Claims and verdicts"):
// overstated by claimed/hi, understated by lo/claimed, consistent within the interval ± 5 %.
func TestSentences(t *testing.T) {
	r := night()
	at := time.Date(2024, 8, 13, 1, 0, 40, 0, time.UTC)
	for _, c := range []struct {
		claim claims.Claim
		want  string
	}{
		// 60 000 000 / 821 = 73 081 → ×73 000 (two significant digits).
		{claims.Claim{ID: "a", ClaimedValue: 60e6, Metric: claims.MetricConcurrent, SaidAt: at},
			"At 01:00 UTC, 821 listeners (exact) were connected and 640 could hear; the claim of 60 000 000 is overstated ×73 000; the platform displayed 1.2M."},
		// Without said_at: the stream's peak second.
		{claims.Claim{ID: "b", ClaimedValue: 800, Metric: claims.MetricConcurrent},
			"At the stream's peak (01:00:17 UTC), 821 listeners (exact) were connected; at most 640 could hear at once; the claim of 800 is consistent with it (within the 95 % interval ± 5 %); the platform displayed up to 1.2M."},
		// 1 200 000 is within 1 213 000 × (1 ± 5 %).
		{claims.Claim{ID: "c", ClaimedValue: 1.2e6, Metric: claims.MetricDisplayed},
			"The platform's counter showed at most 1 213 000 (01:00 UTC); the claim of 1 200 000 is consistent with it (within the 95 % interval ± 5 %); at most 821 listeners were connected at once and 640 could hear."},
		// Cume: 4 990 × 0.95 = 4 740.5 > 1 000 → understated by 4 990 / 1 000 = ×5.0.
		{claims.Claim{ID: "d", ClaimedValue: 1_000, Metric: claims.MetricCume},
			"Over the stream, 5 012 distinct listeners (95 % 4 990–5 034) connected and 700 listeners (exact) heard audio; the claim of 1 000 is understated ×5.0; the platform displayed up to 1.2M."},
		{claims.Claim{ID: "e", ClaimedValue: 60e6, Metric: claims.MetricConcurrent, SaidAt: at.Add(2 * time.Hour)},
			"The claim of 60 000 000 (listening at once) cannot be checked: no measurement in the minute the claim was made (2024-08-13T03:00:40Z)."},
	} {
		c.claim.StreamID = "space"
		res := Build("space", r, []claims.Verdict{claims.Check(c.claim, r, Tolerance)})
		if got := res.Claims[0].Sentence; got != c.want {
			t.Errorf("claim %s:\n got  %s\n want %s", c.claim.ID, got, c.want)
		}
	}
}

func TestBuild(t *testing.T) {
	r := night()
	res := Build("space", r, nil)
	if res.Status != StatusFinal || res.FinalUntil == nil || !res.FinalUntil.Equal(r.To) {
		t.Errorf("status %s until %v", res.Status, res.FinalUntil)
	}
	if len(res.Minutes) != 2 || res.Minutes[0].DisplayedMax != nil || *res.Minutes[1].DisplayedMax != 1_213_000 || *res.Minutes[1].DisplayedLast != 1_200_000 {
		t.Errorf("minutes %+v", res.Minutes)
	}
	if tt := res.Totals; tt.DisplayedMax == nil || tt.DisplayedMax.Value != 1_213_000 || tt.PeakConcurrent.Value != 821 || tt.CumeConnected.Exact || tt.ErrorsByCode == nil {
		t.Errorf("totals %+v", tt)
	}
	r.FinalTo = time.Time{}
	if got := Build("space", r, nil); got.Status != StatusProvisional || got.FinalUntil != nil {
		t.Errorf("provisional: %s %v", got.Status, got.FinalUntil)
	}
	r.FinalTo = r.From.Add(time.Minute)
	if got := Build("space", r, nil).Status; got != StatusPartlyFinal {
		t.Errorf("partly final: %s", got)
	}
	r.Minutes[1].HasDisplayed = false
	r.Minutes[0].HasDisplayed = false
	if got := Build("space", r, nil); got.Totals.DisplayedMax != nil {
		t.Error("displayed max without a displayed counter")
	}
	nd := Build("gone", nil, []claims.Verdict{claims.Check(claims.Claim{ID: "x", StreamID: "gone", ClaimedValue: 1, Metric: claims.MetricCume}, nil, Tolerance)})
	if nd.Status != StatusNoData || nd.Totals != nil || nd.Minutes == nil || nd.Claims[0].Verdict != claims.NotMeasurable || nd.Claims[0].Factor != nil {
		t.Errorf("no data: %+v", nd)
	}
	for k := range figureMetric {
		if _, ok := Definitions[figureMetric[k]]; !ok {
			t.Errorf("figure %q has no definition", k)
		}
	}
}

// TestCounterInSentence: a counter that is exactly 1.4 × the cumulative joins is named in the
// verdict sentences, with its factor; the minute-by-minute numbers are written by hand.
func TestCounterInSentence(t *testing.T) {
	at := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	joins := []uint64{100, 300, 200, 50, 400, 10} // cumulative 100 400 600 650 1050 1060
	peak := []uint64{90, 350, 420, 300, 800, 500} // not proportional to the counter
	r := &report.Stream{StreamID: "s", From: at, To: at.Add(6 * time.Minute), FinalTo: at.Add(6 * time.Minute)}
	var cum uint64
	for i := range joins {
		cum += joins[i]
		d := uint64(1.4 * float64(cum))
		r.Minutes = append(r.Minutes, report.Minute{Start: at.Add(time.Duration(i) * time.Minute), Joins: joins[i], PeakConcurrent: peak[i],
			Connected:    sketch.Count{Value: float64(peak[i]), Lo: float64(peak[i]), Hi: float64(peak[i]), Exact: true},
			HasDisplayed: true, DisplayedMax: d, DisplayedLast: d, Final: true})
		r.DisplayedMax = d
	}
	r.PeakConcurrent, r.PeakConcurrentAt = 800, at.Add(4*time.Minute)
	c := claims.Claim{ID: "x", StreamID: "s", ClaimedValue: 1484, Metric: claims.MetricDisplayed}
	res := Build("s", r, []claims.Verdict{claims.Check(c, r, Tolerance)})
	if res.DisplayedCounter == nil || res.DisplayedCounter.Best == nil || res.DisplayedCounter.Best.Series != "cumulative_joins" ||
		res.DisplayedCounter.Best.Factor < 1.399 || res.DisplayedCounter.Best.Factor > 1.401 {
		t.Fatalf("counter %+v", res.DisplayedCounter)
	}
	want := "The platform's counter showed at most 1 484, which tracks cumulative joins ×1.4; the claim of 1 484 is consistent"
	if got := res.Claims[0].Sentence; len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("sentence %q\nwant it to start %q", got, want)
	}
}

// TestNoRatio: a claim of 0 against listeners has no factor; the verdict says both numbers
// and the sentence has no "×".
func TestNoRatio(t *testing.T) {
	r := night()
	res := Build("space", r, []claims.Verdict{claims.Check(claims.Claim{ID: "z", StreamID: "space", ClaimedValue: 0, Metric: claims.MetricConcurrent}, r, Tolerance)})
	v := res.Claims[0]
	if v.Verdict != claims.Understated || v.Factor != nil || v.Reason == "" {
		t.Fatalf("%+v", v)
	}
	want := "At the stream's peak (01:00:17 UTC), 821 listeners (exact) were connected; at most 640 could hear at once; the claim of 0 is understated; the platform displayed up to 1.2M."
	if v.Sentence != want {
		t.Errorf("got  %s\nwant %s", v.Sentence, want)
	}
}

// TestDisplayedClaimAtATime: "the app showed 1.2M at 01:00" is compared with that minute's
// counter (its largest value in the minute, 1 213 000), not the stream's; a minute without the
// counter is not measurable.
func TestDisplayedClaimAtATime(t *testing.T) {
	r := night()
	at := time.Date(2024, 8, 13, 1, 0, 40, 0, time.UTC)
	c := claims.Claim{ID: "d", StreamID: "space", ClaimedValue: 1.2e6, Metric: claims.MetricDisplayed, SaidAt: at}
	v := Build("space", r, []claims.Verdict{claims.Check(c, r, Tolerance)}).Claims[0]
	want := "At 01:00 UTC, the platform's counter showed up to 1 213 000; the claim of 1 200 000 is consistent with it (within the 95 % interval ± 5 %); 821 listeners were connected at once and 640 could hear."
	if v.Verdict != claims.Consistent || v.Measured.Metric != "displayed_minute" || v.Sentence != want {
		t.Errorf("%s %+v\n got  %s\n want %s", v.Verdict, v.Measured, v.Sentence, want)
	}
	// 00:59 had no counter: not measurable, although the stream had one.
	c.SaidAt = at.Add(-time.Minute)
	if v := Build("space", r, []claims.Verdict{claims.Check(c, r, Tolerance)}).Claims[0]; v.Verdict != claims.NotMeasurable {
		t.Errorf("a minute without the counter: %s", v.Verdict)
	}
}
