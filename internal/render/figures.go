package render

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/earshot/earshot/internal/result"
)

// figure is one line of the totals: a name, its value and a note, plus the metric key of its
// definition.
type figure struct{ metric, name, value, note string }

// figures are the totals as the table and Markdown print them, in order. Text from the
// database (error codes) is raw here: each format escapes it its own way (esc).
func figures(res *result.Result, esc func(string) string) []figure {
	t := res.Totals
	var out []figure
	add := func(metric, name, value, note string) { out = append(out, figure{metric, name, value, note}) }
	if t.DisplayedMax != nil {
		add("displayed_max", "displayed by the platform (max)", result.Int(float64(t.DisplayedMax.Value)), at(t.DisplayedMax.At))
	} else {
		add("displayed_max", "displayed by the platform (max)", "not reported", "")
	}
	add("peak_concurrent", "peak concurrent connected", result.Int(float64(t.PeakConcurrent.Value)), at(t.PeakConcurrent.At))
	add("peak_concurrent_hearing", "peak concurrent hearing", result.Int(float64(t.PeakConcurrentHearing.Value)), at(t.PeakConcurrentHearing.At))
	add("cume_connected", "cume connected", Round(t.CumeConnected), "distinct listeners")
	add("cume_hearing", "cume hearing", Round(t.CumeHearing), "heard ≥ 2 s in some minute")
	add("cume_qualified", "cume qualified", Round(t.CumeQualified), "a session with ≥ 60 s of audio")
	add("aqh_persons", "AQH persons", fmt.Sprintf("%.1f", t.AQHPersons), "≥ 5 min in a quarter hour, averaged")
	add("tsl_seconds", "TSL per hearing listener", (time.Duration(t.TSLSeconds * float64(time.Second))).Round(time.Second).String(), "")
	failShare := 0.0
	if t.Joins > 0 {
		failShare = 100 * float64(t.StartFailures) / float64(t.Joins)
	}
	add("start_failures", "start failures", fmt.Sprintf("%s of %s joins (%.0f%%)", n(t.StartFailures), n(t.Joins), failShare), "no audio within 30 s")
	add("errors", "client errors", errorsLine(t.Errors, t.ErrorsByCode, esc), "")
	if t.Listed > 0 {
		add("authenticated", "authenticated listeners", fmt.Sprintf("%s of %s (%.1f%%)", n(t.Authenticated), n(t.Listed), 100*float64(t.Authenticated)/float64(t.Listed)),
			"signed listener tickets; the rest could be anyone with the app's token")
	}
	if t.PlayedTrimmedMS > 0 {
		add("played_trimmed_ms", "overlapping audio not counted", (time.Duration(t.PlayedTrimmedMS) * time.Millisecond).Round(time.Second).String(),
			"heartbeats claiming time already reported")
	}
	d := t.Delivery
	add("delivery", "arrived late / copies / too late", fmt.Sprintf("%s / %s / %s", n(d.Late), n(d.Duplicates), n(d.TooLate)),
		"events (corrections applied, copies dropped, beyond the horizon)")
	switch res.Status {
	case result.StatusFinal:
		add("", "status", "final", "every minute is settled")
	case result.StatusProvisional:
		add("", "status", "provisional", "late events within the correction horizon may still change it")
	default:
		add("", "status", "final until "+res.FinalUntil.Format("15:04 UTC"), "provisional after: may still change")
	}
	return out
}

// Round formats a count for people: exact counts as integers, estimates with their interval.
func Round(c result.Count) string {
	if c.Exact {
		return result.Int(c.Value) + " (exact)"
	}
	return fmt.Sprintf("%s (95%% %s–%s, ±%.2f%%)", result.Int(c.Value), result.Int(c.Lo), result.Int(c.Hi), 100*(c.Hi-c.Value)/math.Max(c.Value, 1))
}

// n is a counter with thousands separated, like every count of the outputs.
func n(v uint64) string { return result.Int(float64(v)) }

func at(t *time.Time) string {
	if t == nil {
		return ""
	}
	return "at " + t.UTC().Format("15:04:05 UTC")
}

// errorsLine is "388 (network 130, overload 139, timeout 119)", codes in order.
func errorsLine(total uint64, byCode map[string]uint64, esc func(string) string) string {
	if len(byCode) == 0 {
		return n(total)
	}
	codes := make([]string, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = esc(c) + " " + n(byCode[c])
	}
	return fmt.Sprintf("%s (%s)", n(total), strings.Join(parts, ", "))
}

// title is the result's first line: the stream, its range and how many minutes have data.
func title(res *result.Result, esc func(string) string) string {
	if res.From == nil || res.To == nil {
		return fmt.Sprintf("stream %s (%d minutes with data)", esc(res.StreamID), len(res.Minutes))
	}
	return fmt.Sprintf("stream %s, %s – %s (%d minutes with data)", esc(res.StreamID), res.From.Format("2006-01-02 15:04"),
		res.To.Format("15:04 MST"), len(res.Minutes))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
}

// verdictLine is "overstated by ×48.2", "consistent (…)", "not measurable: reason".
func verdictLine(v result.Verdict) string {
	switch {
	case v.Factor == nil && v.Verdict == "not measurable":
		return v.Verdict + ": " + v.Reason
	case v.Factor == nil:
		return v.Reason
	case v.Verdict == "consistent":
		return fmt.Sprintf("%s (within the 95%% interval ± %s%%)", v.Verdict, strconv.FormatFloat(v.Tolerance*100, 'g', 3, 64))
	}
	return fmt.Sprintf("%s by %s", v.Verdict, result.Factor(*v.Factor))
}
