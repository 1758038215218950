package web

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/earshot/earshot/internal/result"
)

// The views turn a result into what the templates show: strings already formatted (with the
// result package's own formatters, so a number reads the same on the page as in the CLI) and
// links. They choose words and order; every number is a field of the result.

// page is what every page's layout needs.
type page struct {
	Site  string // Options.Title
	Title string // this page's
	// Refresh is the meta refresh in seconds (0: none), for results that may still change.
	Refresh int
}

// indexView is the stream list.
type indexView struct {
	page
	Streams []streamLine
}

type streamLine struct {
	Href, ID, First, Last, Peak, Status string
}

// streamView is a stream's page.
type streamView struct {
	page
	StreamID   string
	Status     string // result.Status*, for the status' class
	StatusText string
	Range      string
	JSONHref   string
	CSVHref    string
	Chart      Chart
	// Counter says what the platform's displayed counter tracks (nil: never reported).
	Counter  *result.Counter
	HasData  bool
	Totals   []totalRow
	Verdicts []verdictView
	Minutes  []minuteRow
}

// claimView is one verdict's standalone page.
type claimView struct {
	page
	Status     string
	StreamID   string
	StreamHref string
	StatusText string
	Verdict    verdictView
}

// totalRow is one figure of the totals table with its definition.
type totalRow struct {
	Key, Name, Value, Interval, Note, Definition string
}

// verdictView is a claim's verdict as the page shows it.
type verdictView struct {
	ID, Anchor, Href, Permalink string
	Kind, Class, Sentence       string
	Quote, Claimant, Claimed    string
	SaidAt                      string
	// Source is the claim's source link, empty unless it is http or https: a stored
	// javascript: or data: URL must not become a link.
	Source   string
	Measured *figureRow
	Context  []figureRow
}

type figureRow struct {
	Name, Value, Note, Definition string
}

// minuteRow is one minute of the curve in the table under the chart.
type minuteRow struct {
	Minute, Connected, Hearing, Peak, PeakHearing, Displayed string
	Final                                                    bool
}

func newIndexView(site string, refresh time.Duration, streams []StreamInfo) indexView {
	v := indexView{page: page{Site: site, Title: "Streams"}}
	for _, s := range streams {
		v.Streams = append(v.Streams, streamLine{
			Href: streamHref(s.ID), ID: s.ID, First: s.First.UTC().Format("2006-01-02 15:04"),
			Last: s.Last.UTC().Format("2006-01-02 15:04"), Peak: result.Int(float64(s.Peak)), Status: s.Status,
		})
		if s.Status != result.StatusFinal {
			v.Refresh = refreshSeconds(refresh)
		}
	}
	return v
}

func newStreamView(site string, refresh time.Duration, r *result.Result) streamView {
	v := streamView{
		page:     page{Site: site, Title: r.StreamID, Refresh: refreshFor(r, refresh)},
		StreamID: r.StreamID, Status: r.Status, StatusText: statusText(r, refresh),
		JSONHref: streamHref(r.StreamID) + ".json", CSVHref: streamHref(r.StreamID) + ".csv", Chart: newChart(r),
		HasData: len(r.Minutes) > 0, Counter: r.DisplayedCounter,
	}
	if v.HasData && r.From != nil && r.To != nil {
		v.Range = r.From.Format("2 Jan 2006 15:04") + " – " + r.To.Format("15:04 UTC")
	}
	if r.Totals != nil {
		v.Totals = totalRows(r.Totals, r.Definitions)
	}
	for _, c := range r.Claims {
		v.Verdicts = append(v.Verdicts, newVerdictView(r, c))
	}
	for _, m := range r.Minutes {
		row := minuteRow{Minute: m.Minute.Format("15:04"), Connected: result.Amount(m.Connected, ""),
			Hearing: result.Amount(m.Hearing, ""), Peak: result.Int(float64(m.PeakConcurrent)),
			PeakHearing: result.Int(float64(m.PeakConcurrentHearing)), Displayed: "—", Final: m.Final}
		if m.DisplayedMax != nil {
			row.Displayed = result.Int(float64(*m.DisplayedMax))
		}
		v.Minutes = append(v.Minutes, row)
	}
	return v
}

func newClaimView(site string, refresh time.Duration, r *result.Result, c result.Verdict) claimView {
	return claimView{
		page:   page{Site: site, Title: claimTitle(c.Claim) + " — " + r.StreamID, Refresh: refreshFor(r, refresh)},
		Status: r.Status, StreamID: r.StreamID, StreamHref: streamHref(r.StreamID), StatusText: statusText(r, refresh),
		Verdict: newVerdictView(r, c),
	}
}

func newVerdictView(r *result.Result, v result.Verdict) verdictView {
	c := v.Claim
	out := verdictView{
		ID: c.ID, Anchor: "claim-" + c.ID, Href: streamHref(r.StreamID) + "#claim-" + url.PathEscape(c.ID),
		Permalink: streamHref(r.StreamID) + "/claims/" + segment(c.ID),
		Kind:      v.Verdict, Class: verdictClass[v.Verdict], Sentence: v.Sentence,
		Quote: c.Quote, Claimant: c.Claimant, Claimed: result.Int(c.ClaimedValue) + " (" + c.Metric + ")",
		SaidAt: "time not given", Source: httpURL(c.SourceURL),
	}
	if c.SaidAt != nil {
		out.SaidAt = c.SaidAt.UTC().Format("2 Jan 2006 15:04:05 UTC")
	}
	if v.Measured != nil {
		f := newFigureRow(*v.Measured, r.Definitions)
		out.Measured = &f
	}
	for _, f := range v.Context {
		out.Context = append(out.Context, newFigureRow(f, r.Definitions))
	}
	return out
}

// verdictClass names a verdict's CSS class; an unknown kind gets none rather than a class
// spelled by the database.
var verdictClass = map[string]string{
	"consistent": "consistent", "overstated": "overstated", "understated": "understated",
	"not measurable": "not-measurable",
}

func newFigureRow(f result.Figure, defs map[string]string) figureRow {
	return figureRow{Name: f.Name, Value: result.Amount(f.Count, ""), Note: f.Note, Definition: defs[f.Metric]}
}

// totalRows are every figure of the totals, each with its definition, in the order a reader
// asks about them: what the platform showed, what was measured at once, then over the stream.
func totalRows(t *result.Totals, defs map[string]string) []totalRow {
	peak := func(key, name string, p result.Peak) totalRow {
		return totalRow{Key: key, Name: name, Value: result.Int(float64(p.Value)), Interval: "exact",
			Note: at(p.At, "15:04:05 UTC"), Definition: defs[key]}
	}
	count := func(key, name string, c result.Count) totalRow {
		row := totalRow{Key: key, Name: name, Value: result.Int(c.Value), Interval: "exact", Definition: defs[key]}
		if !c.Exact {
			row.Interval = "95 % " + result.Int(c.Lo) + " – " + result.Int(c.Hi)
		}
		return row
	}
	plain := func(key, name, value, note string) totalRow {
		return totalRow{Key: key, Name: name, Value: value, Interval: "exact", Note: note, Definition: defs[key]}
	}
	var rows []totalRow
	if t.DisplayedMax != nil {
		rows = append(rows, peak("displayed_max", "displayed by the platform (max)", *t.DisplayedMax))
	} else {
		rows = append(rows, totalRow{Key: "displayed_max", Name: "displayed by the platform (max)", Value: "not reported",
			Interval: "—", Definition: defs["displayed_max"]})
	}
	rows = append(rows,
		peak("peak_concurrent", "peak concurrent connected", t.PeakConcurrent),
		peak("peak_concurrent_hearing", "peak concurrent hearing", t.PeakConcurrentHearing),
		count("cume_connected", "cume connected", t.CumeConnected),
		count("cume_hearing", "cume hearing", t.CumeHearing),
		count("cume_qualified", "cume qualified", t.CumeQualified),
		plain("aqh_persons", "AQH persons", decimal(t.AQHPersons), ""),
		plain("tsl_seconds", "time spent listening", duration(t.TSLSeconds),
			"of "+duration(float64(t.PlayedMS)/1000)+" unmuted audio in all"),
		plain("joins", "joins", result.Int(float64(t.Joins)), ""),
		plain("start_failures", "start failures", result.Int(float64(t.StartFailures)), ""),
		plain("errors", "errors", result.Int(float64(t.Errors)), errorCodes(t.ErrorsByCode)),
		plain("authenticated", "authenticated listeners", result.Int(float64(t.Authenticated)),
			"of "+result.Int(float64(t.Listed))+" connected listeners"),
		plain("played_trimmed_ms", "overlapping audio not counted", duration(float64(t.PlayedTrimmedMS)/1000), ""),
		plain("delivery", "delivery", result.Int(float64(t.Delivery.Late))+" late",
			result.Int(float64(t.Delivery.Duplicates))+" duplicates dropped, "+result.Int(float64(t.Delivery.TooLate))+" too late to apply"),
	)
	return rows
}

// errorCodes lists the error codes by count, largest first (codes come from players: the
// template escapes them).
func errorCodes(by map[string]uint64) string {
	codes := slices.Collect(maps.Keys(by))
	slices.SortFunc(codes, func(a, b string) int {
		return cmp.Or(cmp.Compare(by[b], by[a]), strings.Compare(a, b))
	})
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		parts = append(parts, c+": "+result.Int(float64(by[c])))
	}
	return strings.Join(parts, ", ")
}

func statusText(r *result.Result, refresh time.Duration) string {
	live := fmt.Sprintf(" This page reloads every %d s.", refreshSeconds(refresh))
	switch r.Status {
	case result.StatusFinal:
		return "Final: every figure is settled and will not change."
	case result.StatusPartlyFinal:
		return "Provisional after " + r.FinalUntil.UTC().Format("15:04 UTC") +
			": late events may still change the later minutes (shaded). Earlier minutes are final." + live
	case result.StatusNoData:
		return "No measurements for this stream yet." + live
	}
	return "Provisional: the stream is live or recent, and late events may still change any figure (shaded minutes)." + live
}

// refreshFor is the meta refresh of a result's pages: none once it is final.
func refreshFor(r *result.Result, refresh time.Duration) int {
	if r.Status == result.StatusFinal {
		return 0
	}
	return refreshSeconds(refresh)
}

func refreshSeconds(d time.Duration) int { return max(1, int(d.Round(time.Second)/time.Second)) }

func at(t *time.Time, layout string) string {
	if t == nil {
		return ""
	}
	return "at " + t.UTC().Format(layout)
}

// decimal formats an average to one decimal, its thousands spaced as result.Int spaces them.
func decimal(v float64) string {
	whole, frac, _ := strings.Cut(strconv.FormatFloat(v, 'f', 1, 64), ".")
	n, _ := strconv.ParseFloat(whole, 64)
	return result.Int(n) + "." + frac
}

// duration formats seconds as people read them: 42 s, 12 min 5 s, 3 h 20 min.
func duration(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case m > 0:
		return fmt.Sprintf("%d min %d s", m, s)
	}
	return fmt.Sprintf("%d s", s)
}

// streamHref is the path of a stream's page.
func streamHref(id string) string { return "/streams/" + segment(id) }

// segment escapes an id for one path segment. Dots are escaped too, so that the page of a
// stream named "x.json" (/streams/x%2Ejson) is not the JSON of "x" (/streams/x.json).
func segment(id string) string { return strings.ReplaceAll(url.PathEscape(id), ".", "%2E") }

// httpURL is s if it is an absolute http or https URL, else "".
func httpURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}

// claimTitle is "Claim by Donald Trump", or "Claim c-12ab…" without a claimant.
func claimTitle(c result.Claim) string {
	if c.Claimant == "" {
		return "Claim " + c.ID
	}
	return "Claim by " + c.Claimant
}
