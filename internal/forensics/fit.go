package forensics

import (
	"fmt"
	"math"
)

// Fit is how well the displayed counter matches one measured series scaled by a factor:
// displayed ≈ Factor × series.
type Fit struct {
	// Series is the candidate's name (e.g. "cumulative_joins"), Label its plain-English
	// description.
	Series, Label string
	// Factor is k of displayed ≈ k × series, by least squares through the origin: a platform
	// that inflates or rounds its counter scales it; it has no reason to add a constant.
	Factor float64
	// R2 is 1 − SS_res/SS_tot with SS_tot about the mean of the displayed values of the fit's
	// minutes: the share of the counter's variation over time that the scaled series explains.
	// It is what tells candidates apart — any series matches a single level with the right
	// factor; only the right one follows the counter's rises and falls. It can be negative
	// (the scaled series does worse than a flat line at the mean). It is defined only when the
	// displayed counter varies over the fit's minutes (HasR2); a constant counter has no
	// variation to explain, and the fit is judged by RelRMSE alone.
	R2    float64
	HasR2 bool
	// RelRMSE is the root mean square of displayed − Factor × series divided by the mean
	// displayed value: how far off the scaled series is, as a share of the counter. It breaks
	// R² ties and ranks fits without an R².
	RelRMSE float64
	// Minutes is how many minutes the fit used: the counter was reported and the series was
	// above 0.
	Minutes int
	// Uncovered counts the minutes in which the counter showed more than 0 while the series
	// was 0. No factor explains those (k × 0 = 0), so they are left out of the fit, and a
	// series that leaves most of the counter's minutes unexplained is ranked after those that
	// do not (see Analyze): a counter showing thousands before the audio started is not
	// counting listeners who hear audio, however well it follows them afterwards.
	Uncovered int
}

// r2Resolution is the precision at which R² values are compared: closer values are a tie,
// broken by RelRMSE, so that rounding noise does not pick the winner.
const r2Resolution = 1e-9

// fit fits y ≈ k·x over paired values (x ≥ 0, some x > 0).
func fit(x, y []float64) (k, r2 float64, hasR2 bool, relRMSE float64) {
	var sxy, sxx, sy float64
	for i := range x {
		sxy += x[i] * y[i]
		sxx += x[i] * x[i]
		sy += y[i]
	}
	k = sxy / sxx
	n := float64(len(x))
	mean := sy / n
	var ssRes, ssTot, syy float64
	for i := range x {
		r := y[i] - k*x[i]
		ssRes += r * r
		d := y[i] - mean
		ssTot += d * d
		syy += y[i] * y[i]
	}
	// Variance below rounding noise of the values themselves counts as none.
	if ssTot > 1e-12*syy {
		r2, hasR2 = 1-ssRes/ssTot, true
	}
	if mean > 0 {
		relRMSE = math.Sqrt(ssRes/n) / mean
	} else if ssRes > 0 {
		relRMSE = math.Inf(1)
	}
	return k, r2, hasR2, relRMSE
}

// Sentence says what the counter does in words, e.g. "tracks cumulative joins × 1.40 (R²
// 0.998)". The verb follows the fit's quality so that a best-of-bad fit is not presented as
// an explanation: R² ≥ 0.95 tracks, ≥ 0.8 roughly tracks, below that it is only loosely
// related; without an R² (a constant counter) the relative error decides (≤ 5 % matches).
func (f Fit) Sentence() string {
	what := fmt.Sprintf("%s × %s", f.Label, formatFactor(f.Factor))
	if !f.HasR2 {
		verb := "matches"
		if f.RelRMSE > 0.05 {
			verb = "is only loosely related to"
		}
		return fmt.Sprintf("%s %s (within %s; no R²: the counter did not change)", verb, what, formatPercent(f.RelRMSE))
	}
	verb := "tracks"
	switch {
	case f.R2 < 0.8:
		verb = "is only loosely related to"
	case f.R2 < 0.95:
		verb = "roughly tracks"
	}
	return fmt.Sprintf("%s %s (R² %s)", verb, what, formatR2(f.R2))
}

// formatFactor prints two decimals for ordinary factors and three significant digits for
// very large or small ones, which two decimals would flatten (0.00, 1234.57).
func formatFactor(k float64) string {
	if k != 0 && (math.Abs(k) < 0.1 || math.Abs(k) >= 100) {
		return fmt.Sprintf("%.3g", k)
	}
	return fmt.Sprintf("%.2f", k)
}

// formatR2 rounds down, so a fit is never shown better than it is (0.9996 is not a perfect
// 1.000), to three decimals, or four from 0.999 up: good fits of different series often agree
// to three (0.9998 and 0.9995 differ by a factor 2.5 in what they leave unexplained). The
// 1e-9 keeps float noise (1 − 1e-16) from dropping a digit.
func formatR2(r2 float64) string {
	if r2 >= 0.999 {
		return fmt.Sprintf("%.4f", math.Floor(r2*1e4+1e-9)/1e4)
	}
	return fmt.Sprintf("%.3f", math.Floor(r2*1000+1e-9)/1000)
}

func formatPercent(x float64) string {
	if math.IsInf(x, 1) {
		return "∞ %"
	}
	return fmt.Sprintf("%.1f %%", 100*x)
}
