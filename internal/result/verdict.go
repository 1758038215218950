package result

import (
	"time"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
)

// figureMetric names claims' figures by the metric keys of Definitions. claims.Check names its
// figures for people; the result adds the stable key a program (or the page's definitions) uses.
var figureMetric = map[string]string{
	"displayed by the platform (max)": "displayed_max",
	"peak concurrent connected":       "peak_concurrent",
	"peak concurrent hearing":         "peak_concurrent_hearing",
	"cume connected":                  "cume_connected",
	"cume hearing":                    "cume_hearing",
	"cume qualified":                  "cume_qualified",
	"peak concurrent connected in the minute of the claim":       "peak_concurrent_minute",
	"displayed by the platform in the minute of the claim (max)": "displayed_minute",
}

func verdict(v claims.Verdict, r *report.Stream, tracks string) Verdict {
	c := v.Claim
	out := Verdict{
		Claim: FromClaim(c), Verdict: v.Kind, Tolerance: v.Tolerance, Reason: v.Reason, Context: []Figure{},
	}
	if v.Kind != claims.NotMeasurable {
		m := figure(v.Measured)
		out.Measured = &m
		if v.Factor > 0 {
			f := v.Factor
			out.Factor = &f
		} else {
			// A claim of 0, or a measured 0: there is no ratio, the verdict says both numbers.
			out.Reason = v.String()
		}
	}
	for _, f := range v.Context {
		out.Context = append(out.Context, figure(f))
	}
	out.Sentence = sentence(out, r, tracks)
	return out
}

// FromClaim is a stored claim as the result shows it.
func FromClaim(c claims.Claim) Claim {
	return Claim{ID: c.ID, StreamID: c.StreamID, Claimant: c.Claimant, Quote: c.Quote, ClaimedValue: c.ClaimedValue,
		Metric: c.Metric, SaidAt: timePtr(c.SaidAt), SourceURL: c.SourceURL}
}

func figure(f claims.Figure) Figure {
	return Figure{Metric: figureMetric[f.Name], Name: f.Name, Count: count(f.Count), Note: f.Note}
}

// claimMinute is the report's minute holding the claim's said_at, if any.
func claimMinute(c Claim, r *report.Stream) (report.Minute, bool) {
	if c.SaidAt == nil || r == nil {
		return report.Minute{}, false
	}
	return r.At(*c.SaidAt)
}

func hhmm(t time.Time) string { return t.UTC().Format("15:04 UTC") }
