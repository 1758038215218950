package render

import (
	"fmt"
	"io"

	"github.com/earshot/earshot/internal/result"
)

// Table writes the result for a terminal: the totals, optionally the minute curve, and the
// claims with their verdicts and sentences.
func Table(w io.Writer, res *result.Result, minutes bool) {
	if res.Totals == nil {
		fmt.Fprintf(w, "stream %s: no data for this stream and time range\n", Text(res.StreamID))
	} else {
		fmt.Fprintf(w, "%s\n\n", title(res, Text))
		for _, f := range figures(res, Text) {
			fmt.Fprintf(w, "  %-34s %-40s %s\n", f.name, f.value, f.note)
		}
		if c := res.DisplayedCounter; c != nil {
			fmt.Fprintf(w, "\n  %s\n", c.Summary)
		}
	}
	if minutes && len(res.Minutes) > 0 {
		fmt.Fprintf(w, "\n  %-6s %10s %10s %10s %10s %8s %8s %s\n", "minute", "connected", "hearing", "peak", "displayed", "joins", "failed", "")
		for _, m := range res.Minutes {
			disp, mark := "", ""
			if m.DisplayedMax != nil {
				disp = fmt.Sprint(*m.DisplayedMax)
			}
			if !m.Final {
				mark = "provisional"
			}
			fmt.Fprintf(w, "  %-6s %10.0f %10.0f %10d %10s %8d %8d %s\n", m.Minute.Format("15:04"), m.Connected.Value, m.Hearing.Value,
				m.PeakConcurrent, disp, m.Joins, m.StartFailures, mark)
		}
	}
	if len(res.Claims) > 0 {
		fmt.Fprintf(w, "\nclaims\n")
	}
	for _, v := range res.Claims {
		c := v.Claim
		fmt.Fprintf(w, "\n  %q — %s", c.Quote, Text(c.Claimant))
		if c.SaidAt != nil {
			fmt.Fprintf(w, ", %s", c.SaidAt.Format("2006-01-02 15:04 UTC"))
		}
		fmt.Fprintf(w, "\n    claimed %s: %s\n", Text(c.Metric), result.Int(c.ClaimedValue))
		if v.Measured != nil {
			fmt.Fprintf(w, "    measured %s: %s %s\n", v.Measured.Name, Round(v.Measured.Count), v.Measured.Note)
		}
		fmt.Fprintf(w, "    verdict: %s\n", capitalize(verdictLine(v)))
		fmt.Fprintf(w, "    in a sentence: %s\n", Text(v.Sentence))
		if c.SourceURL != "" {
			fmt.Fprintf(w, "    source: %s\n", Text(c.SourceURL))
		}
	}
}

// Claims writes one tab-separated line per claim: id, claimant, metric, value, said_at, quote.
func Claims(w io.Writer, cs []result.Claim) {
	for _, c := range cs {
		said := "-"
		if c.SaidAt != nil {
			said = c.SaidAt.Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%.0f\t%s\t%q\n", Text(c.ID), Text(c.Claimant), Text(c.Metric), c.ClaimedValue, said, c.Quote)
	}
}
