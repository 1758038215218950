package forensics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// MinMinutes is the fewest minutes with both the counter and a series for a fit to count: fewer
// points say nothing about the shape over time, and any series fits one or two minutes with
// some factor.
const MinMinutes = 5

// Series is one measured per-minute series, aligned with the displayed counter (index i is the
// same minute in both).
type Series struct {
	// Name identifies the series in code and output (e.g. "cumulative_joins"); Label is what a
	// reader is told it is (e.g. "cumulative joins since the report's first minute").
	Name, Label string
	Values      []float64
}

// Result is the answer for one stream.
type Result struct {
	// Displayed says which per-minute value of the counter was fitted (e.g. "displayed_max").
	Displayed string
	// DisplayedMinutes counts the minutes in which the counter was reported.
	DisplayedMinutes int
	// Best is the best fit (Fits[0]), nil when no series could be fitted; Reason then says why.
	Best *Fit
	// Fits holds every series fitted over at least MinMinutes minutes, best first.
	Fits   []Fit
	Reason string
}

// Analyze fits displayed ≈ k × series for every candidate and ranks the fits. displayed[i] is
// used only where has[i]; a candidate's minute is used only where its value is > 0 (a missing
// or empty measurement explains nothing) and finite. Minutes beyond the end of a shorter slice
// count as not reported. A candidate that is 0 everywhere is ignored.
//
// Ranking, best first:
//  1. series that explain at least half of the minutes the counter showed more than 0
//     (Minutes ≥ Uncovered) before those that do not;
//  2. fits with an R² before those without (the counter was constant over their minutes);
//  3. higher R² (compared at r2Resolution);
//  4. lower RelRMSE;
//  5. name, so the order is deterministic.
func Analyze(displayed []float64, has []bool, candidates []Series) Result {
	var res Result
	reported := min(len(displayed), len(has))
	shown := 0
	for i := range reported {
		if has[i] {
			res.DisplayedMinutes++
			if displayed[i] > 0 {
				shown++
			}
		}
	}
	switch {
	case res.DisplayedMinutes == 0:
		res.Reason = "the platform's displayed counter was never reported"
		return res
	case shown == 0:
		res.Reason = fmt.Sprintf("the displayed counter showed 0 in all %d minutes it was reported", res.DisplayedMinutes)
		return res
	}
	mostMinutes := 0
	for _, c := range candidates {
		// Every candidate is judged on the same minutes: all those with the counter. A minute
		// where the series is 0 (or past its end) stays in, predicting 0: a series that leaves
		// the counter's early minutes unexplained must not win by being fitted on fewer, easier
		// minutes (cumulative audio starts, 0 until the audio began, against a counter of
		// joins).
		var x, y []float64
		positive, uncovered := 0, 0
		for i := range reported {
			if !has[i] || !isFinite(displayed[i]) {
				continue
			}
			v := 0.0
			if i < len(c.Values) && isFinite(c.Values[i]) && c.Values[i] > 0 {
				v = c.Values[i]
				positive++
			} else if displayed[i] > 0 {
				uncovered++
			}
			x, y = append(x, v), append(y, displayed[i])
		}
		mostMinutes = max(mostMinutes, positive)
		if positive < MinMinutes {
			continue
		}
		f := Fit{Series: c.Name, Label: c.Label, Minutes: positive, Uncovered: uncovered}
		f.Factor, f.R2, f.HasR2, f.RelRMSE = fit(x, y)
		res.Fits = append(res.Fits, f)
	}
	if len(res.Fits) == 0 {
		if len(candidates) == 0 {
			res.Reason = "no measured series to compare with"
		} else {
			res.Reason = fmt.Sprintf("too few minutes with both the displayed counter and a measured series above 0 (at most %d, need %d)", mostMinutes, MinMinutes)
		}
		return res
	}
	slices.SortFunc(res.Fits, compareFits)
	res.Best = &res.Fits[0]
	return res
}

// compareFits orders fits best first (see Analyze).
func compareFits(a, b Fit) int {
	covers := func(f Fit) bool { return f.Minutes >= f.Uncovered }
	if c := cmpBoolDesc(covers(a), covers(b)); c != 0 {
		return c
	}
	if c := cmpBoolDesc(a.HasR2, b.HasR2); c != 0 {
		return c
	}
	if a.HasR2 {
		if c := cmp.Compare(math.Round(b.R2/r2Resolution), math.Round(a.R2/r2Resolution)); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.RelRMSE, b.RelRMSE); c != 0 {
		return c
	}
	return cmp.Compare(a.Series, b.Series)
}

// cmpBoolDesc orders true before false.
func cmpBoolDesc(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// closeRatio bounds how much more a runner-up may leave unexplained than the best fit before
// the minutes can be said to tell them apart. The counter's own sampling leaves residuals that
// are not noise (a counter read twice a minute against per-second peaks), so a runner-up with
// up to twice the best's unexplained variance is reported as fitting about as well, not as
// beaten.
const closeRatio = 2

// Indistinct returns the fits after Best that these minutes cannot tell apart from it: same
// coverage rank, and an unexplained share of the counter's variation (1 − R²) at most
// closeRatio times the best's — or, when neither has an R², a squared RelRMSE at most
// closeRatio times the best's (both measure the residual sum of squares). Peak connected and
// distinct connected in the minute, for instance, differ only by the minute's churn and are
// often indistinct.
func (r Result) Indistinct() []Fit {
	if r.Best == nil {
		return nil
	}
	b := *r.Best
	var out []Fit
	for _, f := range r.Fits[1:] {
		if (f.Minutes >= f.Uncovered) != (b.Minutes >= b.Uncovered) || f.HasR2 != b.HasR2 {
			continue
		}
		if f.HasR2 && 1-f.R2 <= closeRatio*(1-b.R2) || !f.HasR2 && f.RelRMSE*f.RelRMSE <= closeRatio*b.RelRMSE*b.RelRMSE {
			out = append(out, f)
		}
	}
	return out
}

// Summary is the answer in one plain line, e.g. "The displayed counter tracks cumulative joins
// since the report's first minute × 1.40 (R² 0.998) over 75 minutes; next best: …".
func (r Result) Summary() string {
	if r.Best == nil {
		return "What the displayed counter counts cannot be told: " + r.Reason + "."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The displayed counter %s over %d minutes", r.Best.Sentence(), r.Best.Minutes)
	if r.Best.Uncovered > 0 {
		fmt.Fprintf(&b, " (%d more minutes with the counter above 0 and this series at 0 are not explained)", r.Best.Uncovered)
	}
	if close := r.Indistinct(); len(close) > 0 {
		b.WriteString("; these minutes cannot tell it apart from ")
		for i, f := range close {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(shortFit(f))
		}
	} else if len(r.Fits) > 1 {
		b.WriteString("; next best: " + shortFit(r.Fits[1]))
	}
	b.WriteString(".")
	return b.String()
}

// shortFit is "label × k (R² x)" or, without an R², "label × k (within x %)".
func shortFit(f Fit) string {
	if f.HasR2 {
		return fmt.Sprintf("%s × %s (R² %s)", f.Label, formatFactor(f.Factor), formatR2(f.R2))
	}
	return fmt.Sprintf("%s × %s (within %s)", f.Label, formatFactor(f.Factor), formatPercent(f.RelRMSE))
}
