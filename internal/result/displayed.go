package result

import (
	"github.com/earshot/earshot/internal/forensics"
	"github.com/earshot/earshot/internal/report"
)

// Counter is what the platform's displayed counter tracks best among the measured series
// (internal/forensics): the reader learns what "1.2M" actually counted.
type Counter struct {
	// Displayed is the per-minute value of the counter that was fitted (displayed_max).
	Displayed string `json:"displayed"`
	// Minutes the counter was reported in.
	Minutes int `json:"minutes"`
	// Best is the best fit, null when none could be made (Reason says why).
	Best *CounterFit `json:"best"`
	// Fits are every fitted series, best first.
	Fits []CounterFit `json:"fits"`
	// Indistinct names the series these minutes cannot tell apart from the best.
	Indistinct []string `json:"indistinct"`
	Summary    string   `json:"summary"`
	Reason     string   `json:"reason"`
}

// CounterFit is displayed ≈ factor × series over the minutes with both.
type CounterFit struct {
	Series string  `json:"series"`
	Label  string  `json:"label"`
	Factor float64 `json:"factor"`
	// R2 is null when the counter did not change over the fit's minutes (nothing to explain).
	R2        *float64 `json:"r2"`
	RelRMSE   float64  `json:"rel_rmse"`
	Minutes   int      `json:"minutes"`
	Uncovered int      `json:"uncovered"`
	Sentence  string   `json:"sentence"`
}

// counter analyses the displayed counter of r, nil when the platform never reported it.
func counter(r *report.Stream) *Counter {
	if r == nil || !r.HasDisplayed() {
		return nil
	}
	f := forensics.FromReport(r)
	out := &Counter{Displayed: f.Displayed, Minutes: f.DisplayedMinutes, Fits: []CounterFit{}, Indistinct: []string{},
		Summary: f.Summary(), Reason: f.Reason}
	for _, x := range f.Fits {
		out.Fits = append(out.Fits, counterFit(x))
	}
	if f.Best != nil {
		b := counterFit(*f.Best)
		out.Best = &b
	}
	for _, x := range f.Indistinct() {
		out.Indistinct = append(out.Indistinct, x.Series)
	}
	return out
}

func counterFit(f forensics.Fit) CounterFit {
	out := CounterFit{Series: f.Series, Label: f.Label, Factor: f.Factor, RelRMSE: f.RelRMSE, Minutes: f.Minutes,
		Uncovered: f.Uncovered, Sentence: f.Sentence()}
	if f.HasR2 {
		r2 := f.R2
		out.R2 = &r2
	}
	return out
}

// seriesWords name the series in a verdict sentence.
var seriesWords = map[string]string{
	forensics.SeriesConnected:         "connections",
	forensics.SeriesHearing:           "listeners hearing audio",
	forensics.SeriesConnectedDistinct: "distinct connections per minute",
	forensics.SeriesCumulativeJoins:   "cumulative joins",
	forensics.SeriesCumulativePlays:   "cumulative audio starts",
}

// tracks is ", which tracks connections × 1.4" when the counter follows a series closely
// (R² ≥ 0.95 over minutes that cover it), else "": a loose fit is not an explanation.
func (c *Counter) tracks() string {
	if c == nil || c.Best == nil || c.Best.R2 == nil || *c.Best.R2 < 0.95 || c.Best.Minutes < c.Best.Uncovered {
		return ""
	}
	return ", which tracks " + seriesWords[c.Best.Series] + " " + Factor(c.Best.Factor)
}
