// Package render prints reports and claim verdicts for people.
//
// Every string that comes from the database (stream ids, error codes, claims) goes through
// Text or %q before it reaches the terminal: the collector refuses control and format
// characters (event.ReasonBadChars), but rows written before it did, or by anyone with insert
// rights, must not be able to clear the screen or print a line of their own.
package render

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
)

// Report writes the stream's figures, optionally its minute curve, and the verdicts.
func Report(w io.Writer, r *report.Stream, verdicts []claims.Verdict, minutes bool) {
	fmt.Fprintf(w, "stream %s, %s – %s (%d minutes with data)\n\n", Text(r.StreamID), r.From.Format("2006-01-02 15:04"),
		r.To.Format("15:04 MST"), len(r.Minutes))
	row := func(name, value, note string) { fmt.Fprintf(w, "  %-34s %-40s %s\n", name, value, note) }
	row("displayed by the platform (max)", fmt.Sprint(r.DisplayedMax), at(r.DisplayedMaxAt))
	row("peak concurrent connected", fmt.Sprint(r.PeakConcurrent), at(r.PeakConcurrentAt))
	row("peak concurrent hearing", fmt.Sprint(r.PeakHearing), at(r.PeakHearingAt))
	row("cume connected", report.Round(r.CumeConnected), "distinct listeners")
	row("cume hearing", report.Round(r.CumeHearing), "heard ≥ 2 s in some minute")
	row("cume qualified", report.Round(r.CumeQualified), "a session with ≥ 60 s of audio")
	row("AQH persons", fmt.Sprintf("%.1f", r.AQHPersons), "≥ 5 min in a quarter hour, averaged")
	row("TSL per hearing listener", r.TSL.Round(time.Second).String(), "")
	failShare := 0.0
	if r.Joins > 0 {
		failShare = 100 * float64(r.StartFailures) / float64(r.Joins)
	}
	row("start failures", fmt.Sprintf("%d of %d joins (%.0f%%)", r.StartFailures, r.Joins, failShare), "no audio within 30 s")
	row("client errors", errorsLine(r.Errors, r.ErrorsByCode), "")
	if r.Listed > 0 {
		row("authenticated listeners", fmt.Sprintf("%d of %d (%.1f%%)", r.Authenticated, r.Listed, 100*float64(r.Authenticated)/float64(r.Listed)),
			"signed listener tickets; the rest could be anyone with the app's token")
	}
	if r.PlayedTrimmedMS > 0 {
		row("overlapping audio not counted", (time.Duration(r.PlayedTrimmedMS) * time.Millisecond).Round(time.Second).String(),
			"heartbeats claiming time already reported")
	}
	row("arrived late / copies / too late", fmt.Sprintf("%d / %d / %d", r.Late, r.Duplicates, r.TooLate), "events (corrections applied, copies dropped, beyond the horizon)")
	switch {
	case len(r.Minutes) > 0 && !r.FinalTo.Before(r.To):
		row("status", "final", "every minute is settled")
	case r.FinalTo.IsZero():
		row("status", "provisional", "late events within the correction horizon may still change it")
	default:
		row("status", "final until "+r.FinalTo.UTC().Format("15:04 UTC"), "provisional after: may still change")
	}
	if minutes {
		fmt.Fprintf(w, "\n  %-6s %10s %10s %10s %10s %8s %8s\n", "minute", "connected", "hearing", "peak", "displayed", "joins", "failed")
		for _, m := range r.Minutes {
			fmt.Fprintf(w, "  %-6s %10.0f %10.0f %10d %10d %8d %8d\n", m.Start.Format("15:04"), m.Connected.Value, m.Hearing.Value,
				m.PeakConcurrent, m.DisplayedMax, m.Joins, m.StartFailures)
		}
	}
	if len(verdicts) > 0 {
		fmt.Fprintf(w, "\nclaims\n")
	}
	for _, v := range verdicts {
		fmt.Fprintf(w, "\n  %q — %s", v.Claim.Quote, Text(v.Claim.Claimant))
		if !v.Claim.SaidAt.IsZero() {
			fmt.Fprintf(w, ", %s", v.Claim.SaidAt.UTC().Format("2006-01-02 15:04 UTC"))
		}
		fmt.Fprintf(w, "\n    claimed %s: %.0f\n", Text(v.Claim.Metric), v.Claim.ClaimedValue)
		if v.Kind != claims.NotMeasurable {
			fmt.Fprintf(w, "    measured %s: %s %s\n", v.Measured.Name, report.Round(v.Measured.Count), v.Measured.Note)
		}
		fmt.Fprintf(w, "    verdict: %s\n", strings.ToUpper(v.String()[:1])+v.String()[1:])
		if v.Claim.SourceURL != "" {
			fmt.Fprintf(w, "    source: %s\n", Text(v.Claim.SourceURL))
		}
	}
}

// NoData writes that stream has no measurements, and the claims about it with their verdicts.
func NoData(w io.Writer, stream string, verdicts []claims.Verdict, err error) {
	fmt.Fprintf(w, "stream %s: %v\n", Text(stream), err)
	for _, v := range verdicts {
		fmt.Fprintf(w, "  %q — %s: %s\n", v.Claim.Quote, Text(v.Claim.Claimant), v)
	}
}

// Claims writes one tab-separated line per claim: id, claimant, metric, value, quote.
func Claims(w io.Writer, cs []claims.Claim) {
	for _, c := range cs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%.0f\t%q\n", Text(c.ID), Text(c.Claimant), Text(c.Metric), c.ClaimedValue, c.Quote)
	}
}

// Text returns s ready for a terminal: s itself when it is valid UTF-8 of printable characters
// (strconv.IsPrint: letters, marks, numbers, punctuation, symbols, the ASCII space) that does not
// start with a double quote; otherwise s quoted and escaped as Go does (strconv.Quote), so
// "\x1b[2J\r\n" for an escape sequence and a line break, "\u202e" for a bidi override, "\xff"
// for a byte that is not UTF-8. A bare value never starts with a quote and a quoted one always
// does, so one cannot pass for the other.
func Text(s string) string {
	if strings.HasPrefix(s, `"`) || !utf8.ValidString(s) || strings.IndexFunc(s, notPrint) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

func notPrint(r rune) bool { return !strconv.IsPrint(r) }

func at(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return "at " + t.UTC().Format("15:04:05 UTC")
}

// errorsLine is "388 (network 130, overload 139, timeout 119)", codes in order.
func errorsLine(total uint64, byCode map[string]uint64) string {
	if len(byCode) == 0 {
		return fmt.Sprint(total)
	}
	codes := make([]string, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%s %d", Text(c), byCode[c])
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}
