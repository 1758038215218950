package render

import (
	"time"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/sketch"
)

// The fixture is the motivating night in miniature, written by hand: four minutes around
// 01:00 UTC with the platform's counter at 1.2M, 821 000 connected at the peak second and
// 640 000 hearing, the last minute still provisional; and four claims, one for each verdict.

var t0 = time.Date(2024, 8, 13, 0, 58, 0, 0, time.UTC)

func est(v, lo, hi float64) sketch.Count { return sketch.Count{Value: v, Lo: lo, Hi: hi} }

func exactCount(v float64) sketch.Count { return sketch.Count{Value: v, Lo: v, Hi: v, Exact: true} }

func fixtureStream(id, code string) *report.Stream {
	m := func(i int, conn, hear sketch.Count, peak, peakHear, dispMax, dispLast, joins, fails uint64, final bool) report.Minute {
		return report.Minute{Start: t0.Add(time.Duration(i) * time.Minute), Connected: conn, Hearing: hear,
			PeakConcurrent: peak, PeakHearing: peakHear, HasDisplayed: dispMax > 0, DisplayedMax: dispMax, DisplayedLast: dispLast,
			Joins: joins, Leaves: joins / 10, Timeouts: joins / 20, Plays: joins - fails, StartFailures: fails, Errors: fails,
			PlayedMS: peakHear * 50_000, MutedMS: peakHear * 1_000, StalledMS: peakHear * 2_000, Final: final}
	}
	return &report.Stream{
		StreamID: id, From: t0, To: t0.Add(4 * time.Minute),
		Minutes: []report.Minute{
			m(0, est(400_000, 398_000, 402_000), exactCount(0), 410_000, 0, 560_000, 560_000, 410_000, 0, true),
			m(1, est(700_000, 696_500, 703_500), est(350_000, 348_250, 351_750), 712_000, 352_000, 990_000, 990_000, 300_000, 12_000, true),
			m(2, est(815_000, 811_000, 819_000), est(636_000, 632_800, 639_200), 821_000, 640_000, 1_213_000, 1_200_000, 110_000, 9_000, true),
			m(3, est(790_000, 786_000, 794_000), est(650_000, 646_750, 653_250), 801_000, 655_000, 0, 0, 5_000, 0, false),
		},
		PeakConcurrent: 821_000, PeakConcurrentAt: t0.Add(2*time.Minute + 17*time.Second),
		PeakHearing: 655_000, PeakHearingAt: t0.Add(3*time.Minute + 3*time.Second),
		CumeConnected: est(1_012_000, 1_007_000, 1_017_000), CumeHearing: est(702_000, 698_500, 705_500),
		CumeQualified: est(590_000, 587_000, 593_000), AQHPersons: 312_000.5, TSL: 95 * time.Second,
		PlayedMS: 98_000_000_000, PlayedTrimmedMS: 4_000, Joins: 825_000, StartFailures: 21_000, Errors: 30_000,
		ErrorsByCode: map[string]uint64{code: 18_000, "overload": 12_000}, Authenticated: 400_000, Listed: 1_012_345,
		Late: 1_200, Duplicates: 3_400, TooLate: 7, FinalTo: t0.Add(3 * time.Minute),
		DisplayedMax: 1_213_000, DisplayedMaxAt: t0.Add(2 * time.Minute),
	}
}

func fixtureClaims(id, s string) []claims.Claim {
	at := func(h, m, sec int) time.Time { return time.Date(2024, 8, 13, h, m, sec, 0, time.UTC) }
	return []claims.Claim{
		{ID: "trump-60m" + s, StreamID: id, Claimant: "Donald Trump" + s, Quote: "We have 60 million people listening" + s,
			ClaimedValue: 60_000_000, Metric: claims.MetricConcurrent, SaidAt: at(1, 0, 30), SourceURL: "https://example.org/clip" + s},
		{ID: "app-1.2m", StreamID: id, Claimant: "the X app", Quote: "1.2M listening", ClaimedValue: 1_200_000, Metric: claims.MetricDisplayed},
		{ID: "low-cume", StreamID: id, Claimant: "a critic", Quote: "barely 300k tuned in", ClaimedValue: 300_000, Metric: claims.MetricCume},
		{ID: "hostile", StreamID: id, Claimant: "Anon | *bold* [x](y)" + s, Quote: "<script>document.title='pwned'</script>" + s,
			ClaimedValue: 1_000, Metric: claims.MetricConcurrent, SaidAt: at(3, 0, 0)},
	}
}

// fixture is the result of the fixture stream; s is appended to every stored text.
func fixture(id, code, s string) *result.Result {
	r := fixtureStream(id, code)
	var vs []claims.Verdict
	for _, c := range fixtureClaims(id, s) {
		vs = append(vs, claims.Check(c, r, result.Tolerance))
	}
	return result.Build(id, r, vs)
}
