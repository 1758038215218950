package forensics

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sketch"
)

func exact(n float64) sketch.Count { return sketch.Count{Value: n, Lo: n, Hi: n, Exact: true} }

// TestCandidates: the series built from report minutes, running sums included.
func TestCandidates(t *testing.T) {
	at := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	ms := []report.Minute{
		{Start: at, PeakConcurrent: 5, PeakHearing: 0, Connected: exact(6), Joins: 6, Plays: 0},
		{Start: at.Add(time.Minute), PeakConcurrent: 9, PeakHearing: 3, Connected: exact(11), Joins: 5, Plays: 4},
		{Start: at.Add(2 * time.Minute), PeakConcurrent: 7, PeakHearing: 6, Connected: exact(10), Joins: 0, Plays: 2},
	}
	want := map[string][]float64{
		SeriesConnected:         {5, 9, 7},
		SeriesHearing:           {0, 3, 6},
		SeriesConnectedDistinct: {6, 11, 10},
		SeriesCumulativeJoins:   {6, 11, 11},
		SeriesCumulativePlays:   {0, 4, 6},
	}
	got := Candidates(ms)
	if len(got) != len(want) {
		t.Fatalf("%d candidates", len(got))
	}
	for _, s := range got {
		if !slices.Equal(s.Values, want[s.Name]) {
			t.Errorf("%s = %v, want %v", s.Name, s.Values, want[s.Name])
		}
		if s.Label == "" {
			t.Errorf("%s has no label", s.Name)
		}
	}
}

// TestFromReport: the counter's per-minute max is fitted, not its last value; minutes without
// the counter are skipped.
func TestFromReport(t *testing.T) {
	at := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	var ms []report.Minute
	for i, joins := range []uint64{10, 20, 5, 30, 15, 10, 25, 5} {
		ms = append(ms, report.Minute{Start: at.Add(time.Duration(i) * time.Minute), Joins: joins,
			// Peaks that go up and down, so connected and cumulative joins differ.
			PeakConcurrent: []uint64{10, 25, 22, 40, 38, 30, 45, 35}[i], Connected: exact(50)})
	}
	for i := range ms {
		if i == 2 {
			continue // the counter was not reported in this minute
		}
		ms[i].HasDisplayed = true
		ms[i].DisplayedMax = 2 * ms[i].PeakConcurrent // a "listening now" counter, doubled
		ms[i].DisplayedLast = 1                       // a last sample that would fit nothing
	}
	res := FromReport(&report.Stream{Minutes: ms})
	if res.Displayed != DisplayedMax || res.DisplayedMinutes != 7 {
		t.Errorf("displayed %q over %d minutes", res.Displayed, res.DisplayedMinutes)
	}
	if res.Best == nil || res.Best.Series != SeriesConnected || res.Best.Minutes != 7 {
		t.Fatalf("best %+v (%s)", res.Best, res.Reason)
	}
	near(t, "k", res.Best.Factor, 2, 1e-12)
	near(t, "R²", res.Best.R2, 1, 1e-12)
	if !strings.HasPrefix(res.Summary(), "The displayed counter tracks listeners connected (peak second of the minute) × 2.00 (R² 1.0000) over 7 minutes") {
		t.Errorf("summary %q", res.Summary())
	}
	// The constant distinct series has no shape: the counter's variation is not explained.
	for _, f := range res.Fits {
		if f.Series == SeriesConnectedDistinct && f.R2 > 0.01 {
			t.Errorf("distinct: %+v", f)
		}
	}
	for _, r := range []*report.Stream{nil, {}} {
		if res := FromReport(r); res.Best != nil || res.Reason == "" || res.Displayed != DisplayedMax {
			t.Errorf("empty report: %+v", res)
		}
	}
}
