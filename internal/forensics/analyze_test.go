package forensics

import (
	"math"
	"strings"
	"testing"
)

func all(n int) []bool {
	has := make([]bool, n)
	for i := range has {
		has[i] = true
	}
	return has
}

func names(fits []Fit) []string {
	var out []string
	for _, f := range fits {
		out = append(out, f.Series)
	}
	return out
}

// TestAnalyzeRanksByR2: the five-point series of TestFitByHand against the same minutes in
// reverse order and a candidate that is 0 everywhere.
func TestAnalyzeRanksByR2(t *testing.T) {
	displayed := []float64{2, 4, 5, 8, 11}
	res := Analyze(displayed, all(5), []Series{
		// Reverse: Σxy = 10 + 16 + 15 + 16 + 11 = 68, Σx² = 55 → k = 68/55;
		// SS_res = 230 − 68²/55 = (12650 − 4624)/55 = 8026/55; SS_tot = 50 (TestFitByHand)
		// → R² = 1 − 8026/2750 = −1.9185…: worse than a flat line.
		{Name: "reverse", Label: "reverse", Values: []float64{5, 4, 3, 2, 1}},
		{Name: "rising", Label: "rising", Values: []float64{1, 2, 3, 4, 5}},
		{Name: "zero", Label: "nothing", Values: []float64{0, 0, 0, 0, 0}},
	})
	if res.Best == nil {
		t.Fatalf("no best: %s", res.Reason)
	}
	if got := names(res.Fits); len(got) != 2 || got[0] != "rising" || got[1] != "reverse" {
		t.Fatalf("fits %v, want [rising reverse] (the all-zero candidate ignored)", got)
	}
	near(t, "best k", res.Best.Factor, 112.0/55, 1e-12)
	near(t, "best R²", res.Best.R2, 2644.0/2750, 1e-12)
	near(t, "reverse k", res.Fits[1].Factor, 68.0/55, 1e-12)
	near(t, "reverse R²", res.Fits[1].R2, 1-8026.0/2750, 1e-12)
	if res.Best.Minutes != 5 || res.DisplayedMinutes != 5 || res.Reason != "" {
		t.Errorf("minutes %d, displayed minutes %d, reason %q", res.Best.Minutes, res.DisplayedMinutes, res.Reason)
	}
	want := "The displayed counter tracks rising × 2.04 (R² 0.961) over 5 minutes; next best: reverse × 1.24 (R² -1.919)."
	if s := res.Summary(); s != want {
		t.Errorf("Summary() = %q\nwant        %q", s, want)
	}
}

// TestAnalyzeNoisy: a counter that is 1.4 × the series with ±2 % noise recovers about 1.4
// with R² close to but below 1, and beats a series of the same level and another shape.
func TestAnalyzeNoisy(t *testing.T) {
	var displayed, conn, joins []float64
	noise := []float64{0.02, -0.015, 0.01, -0.02, 0.005, 0.015, -0.01, 0, -0.005, 0.02, -0.02, 0.01}
	for i := range 12 {
		c := 100 + 50*math.Sin(float64(i)/2) // rises and falls
		conn = append(conn, c)
		joins = append(joins, 40+float64(i)*15) // only rises
		displayed = append(displayed, 1.4*c*(1+noise[i]))
	}
	res := Analyze(displayed, all(12), []Series{
		{Name: "joins", Values: joins},
		{Name: "conn", Values: conn},
	})
	if res.Best == nil || res.Best.Series != "conn" {
		t.Fatalf("best %+v, want conn", res.Best)
	}
	if k := res.Best.Factor; math.Abs(k/1.4-1) > 0.01 {
		t.Errorf("k = %g, want 1.4 ± 1 %%", k)
	}
	if r2 := res.Best.R2; r2 >= 1 || r2 < 0.99 {
		t.Errorf("R² = %g, want in [0.99, 1)", r2)
	}
	if res.Fits[1].R2 > 0.5 {
		t.Errorf("the rising series fits with R² %g", res.Fits[1].R2)
	}
}

// TestAnalyzeTooFewMinutes: four minutes with both say nothing; no best, and why.
func TestAnalyzeTooFewMinutes(t *testing.T) {
	displayed := []float64{10, 20, 30, 40, 50, 60}
	has := []bool{true, true, true, true, false, false}
	res := Analyze(displayed, has, []Series{{Name: "a", Values: []float64{1, 2, 3, 4, 5, 6}}})
	if res.Best != nil || len(res.Fits) != 0 {
		t.Fatalf("best %+v from 4 minutes", res.Best)
	}
	if !strings.Contains(res.Reason, "at most 4, need 5") {
		t.Errorf("reason %q", res.Reason)
	}
	if !strings.Contains(res.Summary(), res.Reason) {
		t.Errorf("summary %q does not give the reason", res.Summary())
	}
	// Five are enough.
	has[4] = true
	if res := Analyze(displayed, has, []Series{{Name: "a", Values: []float64{1, 2, 3, 4, 5, 6}}}); res.Best == nil || res.Best.Minutes != 5 {
		t.Errorf("five minutes: %+v", res)
	}
}

// TestAnalyzeSkipsMissing: minutes without the counter are left out, whatever their value;
// minutes where the series is 0 stay in, predicting 0, and are counted as uncovered.
func TestAnalyzeSkipsMissing(t *testing.T) {
	x := []float64{10, 20, 0, 30, 40, 50, 60, 70}
	displayed := []float64{14, 28, 99, 1e9, 56, 70, 84, 98}
	has := []bool{true, true, true, false, true, true, true, true}
	res := Analyze(displayed, has, []Series{{Name: "a", Values: x}})
	if res.Best == nil {
		t.Fatal(res.Reason)
	}
	// Used: x 10 20 0 40 50 60 70 against y 14 28 99 56 70 84 98. k = Σxy/Σx² = 18 340/13 100
	// = 1.4; every residual is 0 but the 99 the 0 leaves: SS_res = 9 801. Mean y = 449/7,
	// SS_tot = 35 477 − 449²/7 = 6 676.857…; R² = 1 − 9 801/6 676.857… = −0.4679…
	near(t, "k", res.Best.Factor, 1.4, 1e-12)
	near(t, "R²", res.Best.R2, 1-9801/(35477-449.0*449/7), 1e-12)
	if res.Best.Minutes != 6 || res.Best.Uncovered != 1 || res.DisplayedMinutes != 7 {
		t.Errorf("minutes %d uncovered %d displayed %d, want 6 1 7", res.Best.Minutes, res.Best.Uncovered, res.DisplayedMinutes)
	}
	if s := res.Summary(); !strings.Contains(s, "1 more minutes with the counter above 0 and this series at 0") {
		t.Errorf("summary %q", s)
	}
	// A shorter candidate: the minutes past its end predict 0 (uncovered).
	// Above 0: 10 20 40 50 60; uncovered: the 0 and the minute past the end.
	res = Analyze(displayed, has, []Series{{Name: "short", Values: x[:7]}})
	if res.Best == nil || res.Best.Minutes != 5 || res.Best.Uncovered != 2 {
		t.Errorf("short candidate: %+v %s", res.Best, res.Reason)
	}
}

// TestAnalyzeConstant: a counter stuck at 100 is matched by the flat series at 50 × 2 exactly;
// no R² is claimed for either fit.
func TestAnalyzeConstant(t *testing.T) {
	displayed := []float64{100, 100, 100, 100, 100, 100}
	res := Analyze(displayed, all(6), []Series{
		{Name: "wobble", Label: "wobble", Values: []float64{40, 50, 60, 50, 40, 60}},
		{Name: "flat", Label: "flat", Values: []float64{50, 50, 50, 50, 50, 50}},
	})
	if res.Best == nil || res.Best.Series != "flat" {
		t.Fatalf("best %+v", res.Best)
	}
	for _, f := range res.Fits {
		if f.HasR2 {
			t.Errorf("%s: R² %g for a constant counter", f.Series, f.R2)
		}
	}
	near(t, "k", res.Best.Factor, 2, 1e-12)
	want := "The displayed counter matches flat × 2.00 (within 0.0 %; no R²: the counter did not change) over 6 minutes; next best: wobble × 1.95 (within 16.1 %)."
	if s := res.Summary(); s != want {
		t.Errorf("Summary() = %q\nwant        %q", s, want)
	}
}

// TestAnalyzeCoverage: a series that is 0 in most of the minutes the counter showed something
// cannot be what it counts, however well it fits the few minutes it has: those minutes are
// residuals of its fit.
func TestAnalyzeCoverage(t *testing.T) {
	displayed := []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120}
	late := make([]float64, 12) // 0 for 7 minutes, then exactly displayed/2
	rough := make([]float64, 12)
	for i, d := range displayed {
		if i >= 7 {
			late[i] = d / 2
		}
		rough[i] = d * (1 + 0.1*float64(i%3-1))
	}
	res := Analyze(displayed, all(12), []Series{{Name: "late", Values: late}, {Name: "rough", Values: rough}})
	if got := names(res.Fits); len(got) != 2 || got[0] != "rough" {
		t.Fatalf("fits %v, want rough first", got)
	}
	// late: k = 2 from its five minutes; the seven before leave 10…70 unexplained: SS_res =
	// 14 000; y = 10…120 has SS_tot = 14 300; R² = 1 − 14 000/14 300.
	l := res.Fits[1]
	near(t, "late k", l.Factor, 2, 1e-12)
	near(t, "late R²", l.R2, 1-14000.0/14300, 1e-12)
	if l.Minutes != 5 || l.Uncovered != 7 {
		t.Errorf("late: %+v", l)
	}
}

// TestIndistinct: two series that differ by less than the sampling noise are reported as
// not told apart; a clearly worse one is not.
func TestIndistinct(t *testing.T) {
	displayed := []float64{10, 30, 55, 70, 60, 40, 35, 50}
	a := []float64{10.2, 29.5, 55.4, 69.8, 60.3, 39.6, 35.2, 50.1}
	b := []float64{10.4, 29.8, 54.6, 70.5, 59.5, 40.5, 34.7, 50.2}
	c := []float64{12, 26, 60, 64, 66, 35, 40, 45}
	res := Analyze(displayed, all(8), []Series{{Name: "a", Label: "a", Values: a}, {Name: "b", Label: "b", Values: b}, {Name: "c", Label: "c", Values: c}})
	if got := names(res.Fits); len(got) != 3 || got[2] != "c" {
		t.Fatalf("fits %v", got)
	}
	ind := res.Indistinct()
	if len(ind) != 1 || ind[0].Series != res.Fits[1].Series {
		t.Fatalf("indistinct %v (fits %+v)", names(ind), res.Fits)
	}
	if s := res.Summary(); !strings.Contains(s, "cannot tell it apart from "+res.Fits[1].Label+" ×") || strings.Contains(s, "next best") {
		t.Errorf("summary %q", s)
	}
	if (Result{}).Indistinct() != nil {
		t.Error("indistinct without a best")
	}
}

func TestAnalyzeNothing(t *testing.T) {
	cand := []Series{{Name: "a", Values: []float64{1, 2, 3, 4, 5}}}
	for _, c := range []struct {
		name      string
		displayed []float64
		has       []bool
		cand      []Series
		reason    string
	}{
		{"never reported", []float64{1, 2, 3, 4, 5}, make([]bool, 5), cand, "never reported"},
		{"always 0", make([]float64, 5), all(5), cand, "showed 0 in all 5 minutes"},
		{"no candidates", []float64{1, 2, 3, 4, 5}, all(5), nil, "no measured series"},
		{"all-zero candidate", []float64{1, 2, 3, 4, 5}, all(5), []Series{{Name: "z", Values: make([]float64, 5)}}, "at most 0, need 5"},
		{"NaN candidate", []float64{1, 2, 3, 4, 5}, all(5), []Series{{Name: "n", Values: []float64{math.NaN(), 1, 2, 3, 4}}}, "at most 4, need 5"},
	} {
		res := Analyze(c.displayed, c.has, c.cand)
		if res.Best != nil || !strings.Contains(res.Reason, c.reason) {
			t.Errorf("%s: best %+v, reason %q, want one containing %q", c.name, res.Best, res.Reason, c.reason)
		}
	}
}
