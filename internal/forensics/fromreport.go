package forensics

import "github.com/earshot/earshot/internal/report"

// Names of the series FromReport fits.
const (
	SeriesConnected         = "connected"
	SeriesHearing           = "hearing"
	SeriesConnectedDistinct = "connected_distinct"
	SeriesCumulativeJoins   = "cumulative_joins"
	SeriesCumulativePlays   = "cumulative_plays"
)

// DisplayedMax names the per-minute value of the counter that FromReport fits: the largest
// value shown in the minute. The instantaneous candidates (connected, hearing) are maxima over
// the minute's seconds, so max against max compares like with like; for a counter that only
// grows (a "joined" count) the max is the last value anyway. DisplayedLast would compare the
// minute's peak with whatever the counter happened to show at its last sample.
const DisplayedMax = "displayed_max"

// FromReport fits the stream's displayed counter (per-minute DisplayedMax) against the series
// of Candidates.
func FromReport(r *report.Stream) Result {
	if r == nil || len(r.Minutes) == 0 {
		return Result{Displayed: DisplayedMax, Reason: "the report has no minutes"}
	}
	displayed := make([]float64, len(r.Minutes))
	has := make([]bool, len(r.Minutes))
	for i, m := range r.Minutes {
		displayed[i], has[i] = float64(m.DisplayedMax), m.HasDisplayed
	}
	res := Analyze(displayed, has, Candidates(r.Minutes))
	res.Displayed = DisplayedMax
	return res
}

// Candidates builds the measured series a displayed counter may be counting, one value per
// report minute (minutes in time order):
//
//   - connected: the peak second of the minute's connected listeners — "listening now";
//   - hearing: the same for listeners rendering audio;
//   - connected_distinct: distinct listeners connected at any moment of the minute (a
//     HyperLogLog estimate above the sketch's exact range), for a counter that keeps a
//     listener for a while after they leave;
//   - cumulative_joins, cumulative_plays: running sums of join and play events from the
//     report's first minute — a "joined"/"views" count that never goes down. A report that
//     starts after the stream did misses the earlier joins; its cumulative series are then
//     offset from the counter and fit worse than they should, so fit whole streams.
//
// Not available: "connected including filtered bot traffic". The collector drops invalid
// traffic before Kafka and keeps only counts by reason, not per-minute audiences, so a counter
// that includes bots can only show up here as a larger factor on one of these series.
func Candidates(minutes []report.Minute) []Series {
	n := len(minutes)
	s := []Series{
		{Name: SeriesConnected, Label: "listeners connected (peak second of the minute)", Values: make([]float64, n)},
		{Name: SeriesHearing, Label: "listeners hearing audio (peak second of the minute)", Values: make([]float64, n)},
		{Name: SeriesConnectedDistinct, Label: "distinct listeners connected during the minute", Values: make([]float64, n)},
		{Name: SeriesCumulativeJoins, Label: "cumulative joins since the report's first minute", Values: make([]float64, n)},
		{Name: SeriesCumulativePlays, Label: "cumulative plays (audio starts) since the report's first minute", Values: make([]float64, n)},
	}
	var joins, plays uint64
	for i, m := range minutes {
		joins += m.Joins
		plays += m.Plays
		s[0].Values[i] = float64(m.PeakConcurrent)
		s[1].Values[i] = float64(m.PeakHearing)
		s[2].Values[i] = m.Connected.Value
		s[3].Values[i] = float64(joins)
		s[4].Values[i] = float64(plays)
	}
	return s
}
