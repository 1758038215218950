package web

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/sketch"
)

// fakeSource serves hand-made results; err, when set, is what every call returns.
type fakeSource struct {
	streams []StreamInfo
	results map[string]*result.Result
	err     error
}

func (f *fakeSource) Streams(ctx context.Context) ([]StreamInfo, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.streams, nil
}

func (f *fakeSource) Result(ctx context.Context, stream string) (*result.Result, error) {
	if f.err != nil {
		return nil, f.err
	}
	r, ok := f.results[stream]
	if !ok {
		return nil, ErrUnknownStream
	}
	return r, nil
}

func sourceOf(rs ...*result.Result) *fakeSource {
	f := &fakeSource{results: map[string]*result.Result{}}
	for _, r := range rs {
		f.results[r.StreamID] = r
		st := result.StatusFinal
		if r.Status != result.StatusFinal {
			st = result.StatusProvisional
		}
		si := StreamInfo{ID: r.StreamID, Status: st}
		if r.Totals != nil {
			si.First, si.Last, si.Peak = *r.From, r.To.Add(-time.Minute), r.Totals.PeakConcurrent.Value
		}
		f.streams = append(f.streams, si)
	}
	return f
}

var errDatabase = errors.New("dial tcp 10.9.8.7:9000: code: 60, message: Table secret_db.minute_stats does not exist")

// hostileQuote is a quote that runs a script if the page does not escape it.
const hostileQuote = `<script>document.title='pwned'</script>`

// spaceStart is the first minute of the seeded stream: the night of the X Space of 12 Aug 2024
// (UTC), which started about 45 minutes late.
var spaceStart = time.Date(2024, 8, 13, 0, 30, 0, 0, time.UTC)

// seededStream is a 75-minute stream as report.Load would return it: exact counts for the
// first minutes, HyperLogLog estimates (±2 %) after, the platform's counter in every minute,
// and the last 10 minutes still provisional. Claims are three: Trump's "60 million" with a
// hostile quote (overstated), the app's displayed figure (consistent), and one made 15 minutes
// after the last measured minute (not measurable).
func seededStream(id string) (*report.Stream, []claims.Claim) {
	const minutes, provisional = 75, 10
	r := &report.Stream{StreamID: id, From: spaceStart, To: spaceStart.Add(minutes * time.Minute),
		ErrorsByCode: map[string]uint64{"network": 41, "decode<x>": 3}}
	count := func(v float64) sketch.Count {
		if v < 100 {
			return sketch.Count{Value: v, Lo: v, Hi: v, Exact: true}
		}
		return sketch.Count{Value: v, Lo: math.Round(v * 0.98), Hi: math.Round(v * 1.02)}
	}
	for i := range minutes {
		// A ramp up, a plateau with a wave, a ramp down: about 1 900 connected at the top.
		conn := math.Round(1900 * math.Min(1, float64(i+1)/15) * (0.9 + 0.1*math.Sin(float64(i)/6)) * math.Min(1, float64(minutes-i)/10))
		hear := math.Round(conn * (0.55 + 0.3*math.Min(1, float64(i)/40)))
		m := report.Minute{Start: spaceStart.Add(time.Duration(i) * time.Minute), Connected: count(conn), Hearing: count(hear),
			PeakConcurrent: uint64(conn * 0.97), PeakHearing: uint64(hear * 0.95), Joins: 40, Plays: 30,
			PlayedMS: uint64(hear) * 40_000, HasDisplayed: true, DisplayedMax: uint64(conn * 1.4), DisplayedLast: uint64(conn * 1.35),
			Final: i < minutes-provisional}
		r.Minutes = append(r.Minutes, m)
		r.PlayedMS += m.PlayedMS
		r.Joins += m.Joins
		if m.PeakConcurrent > r.PeakConcurrent {
			r.PeakConcurrent, r.PeakConcurrentAt = m.PeakConcurrent, m.Start.Add(17*time.Second)
		}
		if m.PeakHearing > r.PeakHearing {
			r.PeakHearing, r.PeakHearingAt = m.PeakHearing, m.Start.Add(23*time.Second)
		}
		if m.DisplayedMax > r.DisplayedMax {
			r.DisplayedMax, r.DisplayedMaxAt = m.DisplayedMax, m.Start
		}
		if m.Final {
			r.FinalTo = m.Start.Add(time.Minute)
		}
	}
	r.CumeConnected, r.CumeHearing, r.CumeQualified = count(5210), count(3980), count(2875)
	r.AQHPersons, r.TSL = 1012.5, 21*time.Minute+14*time.Second
	r.Errors, r.StartFailures, r.Authenticated, r.Listed = 44, 130, 4100, 5190
	r.Late, r.Duplicates, r.TooLate = 310, 95, 2
	cs := []claims.Claim{
		{ID: "trump-60m", StreamID: id, Claimant: "Donald Trump", Quote: hostileQuote, ClaimedValue: 60e6,
			Metric: claims.MetricConcurrent, SaidAt: spaceStart.Add(40*time.Minute + 12*time.Second),
			SourceURL: "https://example.com/space-transcript"},
		{ID: "app-counter", StreamID: id, Claimant: "the X app", Quote: "2.7K listening", ClaimedValue: float64(r.DisplayedMax),
			Metric: claims.MetricDisplayed, SaidAt: spaceStart.Add(55 * time.Minute), SourceURL: "javascript:alert(1)"},
		{ID: "after-the-end", StreamID: id, Claimant: "a host", Quote: "still thousands listening", ClaimedValue: 5000,
			Metric: claims.MetricConcurrent, SaidAt: spaceStart.Add(90 * time.Minute)},
	}
	return r, cs
}

// seededResult is the seeded stream's result, built as ClickHouseSource builds it.
func seededResult(id string) *result.Result {
	r, cs := seededStream(id)
	vs := make([]claims.Verdict, 0, len(cs))
	for _, c := range cs {
		vs = append(vs, claims.Check(c, r, 0.05))
	}
	return result.Build(id, r, vs)
}

// finalResult is the seeded result with every minute final.
func finalResult(id string) *result.Result {
	r, cs := seededStream(id)
	for i := range r.Minutes {
		r.Minutes[i].Final = true
	}
	r.FinalTo = r.To
	var vs []claims.Verdict
	for _, c := range cs {
		vs = append(vs, claims.Check(c, r, 0.05))
	}
	return result.Build(id, r, vs)
}
