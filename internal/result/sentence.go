package result

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
)

// sentence is the verdict as one sentence a journalist can paste: what was measured when the
// claim was made, the verdict with its factor, and the platform's counter it is often confused
// with, and what that counter tracks (tracks, from the forensics). Every number in it is also in
// the result's fields.
func sentence(v Verdict, r *report.Stream, tracks string) string {
	c := v.Claim
	if v.Verdict == claims.NotMeasurable {
		return fmt.Sprintf("The claim of %s (%s) cannot be checked: %s.", Int(c.ClaimedValue), metricWords[c.Metric], v.Reason)
	}
	var b strings.Builder
	m, inMinute := claimMinute(c, r)
	switch c.Metric {
	case claims.MetricConcurrent:
		if inMinute {
			fmt.Fprintf(&b, "At %s, %s were connected and %s could hear", hhmm(m.Start),
				Amount(exact(m.PeakConcurrent), "listeners"), Int(float64(m.PeakHearing)))
		} else {
			fmt.Fprintf(&b, "At the stream's peak%s, %s were connected; at most %s could hear at once",
				atClock(r.PeakConcurrentAt.IsZero(), r.PeakConcurrentAt.Format("15:04:05 UTC")),
				Amount(exact(r.PeakConcurrent), "listeners"), Int(float64(r.PeakHearing)))
		}
	case claims.MetricCume:
		fmt.Fprintf(&b, "Over the stream, %s connected and %s heard audio",
			Amount(count(r.CumeConnected), "distinct listeners"), Amount(count(r.CumeHearing), "listeners"))
	case claims.MetricDisplayed:
		if inMinute {
			fmt.Fprintf(&b, "At %s, the platform's counter showed up to %s%s", hhmm(m.Start), Int(float64(m.DisplayedMax)), tracks)
		} else {
			fmt.Fprintf(&b, "The platform's counter showed at most %s%s%s", Int(float64(r.DisplayedMax)),
				atClock(r.DisplayedMaxAt.IsZero(), r.DisplayedMaxAt.Format("15:04 UTC")), tracks)
		}
	}
	fmt.Fprintf(&b, "; the claim of %s is %s", Int(c.ClaimedValue), verdictPhrase(v))
	switch {
	case c.Metric == claims.MetricDisplayed && inMinute:
		fmt.Fprintf(&b, "; %s listeners were connected at once and %s could hear",
			Int(float64(m.PeakConcurrent)), Int(float64(m.PeakHearing)))
	case c.Metric == claims.MetricDisplayed:
		fmt.Fprintf(&b, "; at most %s listeners were connected at once and %s could hear",
			Int(float64(r.PeakConcurrent)), Int(float64(r.PeakHearing)))
	case inMinute && m.HasDisplayed:
		fmt.Fprintf(&b, "; the platform displayed %s%s", Short(float64(m.DisplayedLast)), tracks)
	case r.HasDisplayed():
		fmt.Fprintf(&b, "; the platform displayed up to %s%s", Short(float64(r.DisplayedMax)), tracks)
	}
	b.WriteString(".")
	return b.String()
}

var metricWords = map[string]string{
	claims.MetricConcurrent: "listening at once",
	claims.MetricCume:       "listened in all",
	claims.MetricDisplayed:  "shown by the platform",
}

func verdictPhrase(v Verdict) string {
	switch v.Verdict {
	case claims.Overstated, claims.Understated:
		if v.Factor == nil {
			return v.Verdict
		}
		return v.Verdict + " " + Factor(*v.Factor)
	}
	return fmt.Sprintf("consistent with it (within the 95 %% interval ± %s %%)", strconv.FormatFloat(100*v.Tolerance, 'g', 3, 64))
}

func atClock(unknown bool, s string) string {
	if unknown {
		return ""
	}
	return " (" + s + ")"
}

func exact(v uint64) Count {
	return Count{Value: float64(v), Lo: float64(v), Hi: float64(v), Exact: true}
}
