package web

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/earshot/earshot/internal/result"
)

// The chart is a pure function of the result: chart() places the result's numbers in a fixed
// coordinate system (the SVG's viewBox) and chart.html draws what it placed. Keeping the
// geometry out of the template is what lets tests check it (a point per minute, a band from lo
// to hi, a claim at its second) without a browser.

// Chart geometry in viewBox units; the SVG scales to the page's width.
const (
	chartWidth  = 960.0
	chartHeight = 440.0
	padLeft     = 64.0 // room for the value labels
	padRight    = 24.0
	padTop      = 72.0 // room for the legend and three staggered rows of claim labels
	padBottom   = 48.0 // room for the time labels and the axis title
)

// claimReach is how far outside the measured range a claim may fall and still widen the time
// axis to show it: a claim made while the audio was late, or just after the end, belongs on the
// chart; one made the next day would squash the stream into a sliver, and is only listed.
const claimReach = 30 * time.Minute

// Chart is the chart of one stream, ready to draw.
type Chart struct {
	Width, Height            float64
	Left, Top, Right, Bottom float64 // the plot area
	PlotHeight               float64
	// Series are connected, hearing and displayed_max, in drawing order.
	Series []Series
	// Provisional are the time spans of minutes that are not final yet.
	Provisional []Span
	Claims      []Marker
	// OffChart counts the claims with said_at too far from the measured range to draw.
	OffChart       int
	XTicks, YTicks []Tick
	// Desc says in words what the chart shows, for screen readers.
	Desc string
}

// Series is one line of the chart.
type Series struct {
	Key  string // its metric's key in the result's definitions
	Name string
	// Lines are polyline points ("x,y x,y …"), one per run of consecutive minutes with a
	// value: a gap in the data is not drawn over.
	Lines []string
	// Bands are polygon points of the 95 % interval (hi forwards, lo backwards), one per run;
	// none for a series without an interval.
	Bands  []string
	Points []Point
}

// Point is one minute of a series, drawn at the middle of its minute.
type Point struct {
	X, Y   float64
	Minute time.Time
	Value  float64
	Label  string // what the point says on hover: minute, series, value and interval
}

// Span is a stretch of the time axis.
type Span struct{ X, W float64 }

// Marker is a claim on the time axis: a vertical line at said_at, labelled, linking to the
// claim's verdict below the chart.
type Marker struct {
	X      float64
	LabelX float64
	LabelY float64 // staggered so that close claims stay readable
	// Anchor is the label's text-anchor: labels right of the middle end at the line, so that
	// they stay inside the chart.
	Anchor       string
	ID, Href     string
	Label, Title string
	Verdict      string
	Class        string
}

// Tick is a labelled position on an axis; Sub is an optional second line (the date).
type Tick struct {
	Pos        float64
	Label, Sub string
}

// newChart places the result on the chart. A result without minutes gives a chart without
// series; the page then says there is no measurement instead of drawing it.
func newChart(r *result.Result) Chart {
	c := Chart{Width: chartWidth, Height: chartHeight,
		Left: padLeft, Top: padTop, Right: chartWidth - padRight, Bottom: chartHeight - padBottom,
		PlotHeight: chartHeight - padBottom - padTop}
	if len(r.Minutes) == 0 {
		return c
	}
	from, to := r.Minutes[0].Minute, r.Minutes[len(r.Minutes)-1].Minute.Add(time.Minute)
	t0, t1 := from, to
	for _, v := range r.Claims {
		at := v.Claim.SaidAt
		if at == nil || at.Before(from.Add(-claimReach)) || !at.Before(to.Add(claimReach)) {
			continue
		}
		if at.Before(t0) {
			t0 = at.Truncate(time.Minute)
		}
		if !at.Before(t1) {
			t1 = at.Truncate(time.Minute).Add(time.Minute)
		}
	}
	x := func(t time.Time) float64 {
		return c.Left + (c.Right-c.Left)*float64(t.Sub(t0))/float64(t1.Sub(t0))
	}

	var top float64
	for _, m := range r.Minutes {
		top = max(top, m.Connected.Hi, m.Hearing.Hi, m.Connected.Value, m.Hearing.Value)
		if m.DisplayedMax != nil {
			top = max(top, float64(*m.DisplayedMax))
		}
	}
	ticks, yMax := valueTicks(top)
	y := func(v float64) float64 { return c.Bottom - (c.Bottom-c.Top)*v/yMax }
	for _, v := range ticks {
		c.YTicks = append(c.YTicks, Tick{Pos: y(v), Label: result.Short(v)})
	}
	c.XTicks = timeTicks(t0, t1, x)

	c.Series = []Series{
		countSeries(r.Minutes, "connected", "connected", func(m result.Minute) result.Count { return m.Connected }, x, y),
		countSeries(r.Minutes, "hearing", "hearing", func(m result.Minute) result.Count { return m.Hearing }, x, y),
		displayedSeries(r.Minutes, x, y),
	}

	for _, m := range r.Minutes {
		if m.Final {
			continue
		}
		x0, x1 := x(m.Minute), x(m.Minute.Add(time.Minute))
		if n := len(c.Provisional); n > 0 && math.Abs(c.Provisional[n-1].X+c.Provisional[n-1].W-x0) < 1e-9 {
			c.Provisional[n-1].W = x1 - c.Provisional[n-1].X
			continue
		}
		c.Provisional = append(c.Provisional, Span{X: x0, W: x1 - x0})
	}

	var labels labelRows
	for _, v := range r.Claims {
		at := v.Claim.SaidAt
		if at == nil {
			continue
		}
		if at.Before(t0) || !at.Before(t1) {
			c.OffChart++
			continue
		}
		m := Marker{
			X: x(*at), Anchor: "start",
			ID: v.Claim.ID, Href: "#claim-" + url.PathEscape(v.Claim.ID),
			Label:   claimLabel(v.Claim),
			Title:   fmt.Sprintf("%s claimed %s at %s: %s", v.Claim.Claimant, result.Int(v.Claim.ClaimedValue), at.UTC().Format("15:04:05 UTC"), v.Verdict),
			Verdict: v.Verdict, Class: verdictClass[v.Verdict],
		}
		m.LabelX = m.X + 4
		lo, hi := m.LabelX, m.LabelX+labelWidth(m.Label)
		if m.X > (c.Left+c.Right)/2 {
			m.Anchor, m.LabelX = "end", m.X-4
			lo, hi = m.LabelX-labelWidth(m.Label), m.LabelX
		}
		if row, ok := labels.place(lo, hi); ok {
			m.LabelY = c.Top - 8 - 14*float64(row)
		} else {
			// No room above the plot: the marker keeps its line and its title (shown on
			// hover), and the claim is in the list below; overlapping text helps nobody.
			m.LabelY, m.Label = c.Top-8, ""
		}
		c.Claims = append(c.Claims, m)
	}
	c.Desc = fmt.Sprintf("Listeners per minute from %s to %s: connected and hearing with their 95 %% intervals, and the platform's displayed counter; %d claims marked.",
		from.Format("2 Jan 2006 15:04 UTC"), to.Format("15:04 UTC"), len(c.Claims))
	return c
}

// countSeries is a distinct count per minute with its interval band.
func countSeries(ms []result.Minute, key, name string, get func(result.Minute) result.Count,
	x func(time.Time) float64, y func(float64) float64) Series {
	s := Series{Key: key, Name: name}
	var line, hi, lo []string
	flush := func() {
		if len(line) == 0 {
			return
		}
		s.Lines = append(s.Lines, strings.Join(line, " "))
		band := append(hi, reversed(lo)...)
		s.Bands = append(s.Bands, strings.Join(band, " "))
		line, hi, lo = nil, nil, nil
	}
	for i, m := range ms {
		if i > 0 && m.Minute.Sub(ms[i-1].Minute) != time.Minute {
			flush()
		}
		c := get(m)
		px := x(m.Minute.Add(30 * time.Second))
		p := Point{X: px, Y: y(c.Value), Minute: m.Minute, Value: c.Value,
			Label: m.Minute.Format("15:04 UTC") + " " + name + " " + result.Amount(c, "")}
		s.Points = append(s.Points, p)
		line = append(line, xy(px, p.Y))
		hi = append(hi, xy(px, y(c.Hi)))
		lo = append(lo, xy(px, y(c.Lo)))
	}
	flush()
	return s
}

// displayedSeries is the platform's counter (its largest value in each minute), only in the
// minutes it was seen.
func displayedSeries(ms []result.Minute, x func(time.Time) float64, y func(float64) float64) Series {
	s := Series{Key: "displayed_max", Name: "displayed by the platform"}
	var line []string
	flush := func() {
		if len(line) > 0 {
			s.Lines = append(s.Lines, strings.Join(line, " "))
		}
		line = nil
	}
	for i, m := range ms {
		if i > 0 && m.Minute.Sub(ms[i-1].Minute) != time.Minute {
			flush()
		}
		if m.DisplayedMax == nil {
			flush()
			continue
		}
		v := float64(*m.DisplayedMax)
		px := x(m.Minute.Add(30 * time.Second))
		s.Points = append(s.Points, Point{X: px, Y: y(v), Minute: m.Minute, Value: v,
			Label: m.Minute.Format("15:04 UTC") + " displayed " + result.Int(v)})
		line = append(line, xy(px, y(v)))
	}
	flush()
	return s
}

// valueTicks are the value axis' ticks from 0, a nice step apart (1, 2 or 5 × 10^k, never
// below one listener), the last one at or above top; yMax is that last tick.
func valueTicks(top float64) (ticks []float64, yMax float64) {
	step := niceStep(top / 5)
	n := max(1, int(math.Ceil(top/step-1e-9)))
	for i := range n + 1 {
		ticks = append(ticks, float64(i)*step)
	}
	return ticks, float64(n) * step
}

func niceStep(raw float64) float64 {
	if raw <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// timeSteps are the time axis' candidate steps: each divides a day, so ticks fall on round
// clock times in UTC.
var timeSteps = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour,
	12 * time.Hour, 24 * time.Hour}

// maxTimeTicks keeps the time labels ("15:04", five characters) from touching at 960 units.
const maxTimeTicks = 10

// timeTicks labels round UTC clock times in [t0, t1]; the date is added to the first label and
// wherever the day changes.
func timeTicks(t0, t1 time.Time, x func(time.Time) float64) []Tick {
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if t1.Sub(t0)/s <= maxTimeTicks {
			step = s
			break
		}
	}
	var out []Tick
	day := ""
	for t := t0.Truncate(step); !t.After(t1); t = t.Add(step) {
		if t.Before(t0) {
			continue
		}
		tk := Tick{Pos: x(t), Label: t.Format("15:04")}
		if d := t.Format("2 Jan 2006"); d != day {
			tk.Sub, day = d, d
		}
		out = append(out, tk)
	}
	return out
}

func xy(x, y float64) string {
	return strconv.FormatFloat(x, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64)
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// clip shortens a label to n characters; the full text is in the marker's title.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// labelRows stacks the claim labels above the plot in claimRows rows: each label goes to the
// lowest row where it overlaps no label already there, so that claims made minutes apart stay
// readable.
type labelRows [claimRows][][2]float64

// claimRows is how many rows of labels padTop leaves room for.
const claimRows = 3

// labelWidth estimates a label's width in chart units (11 px sans-serif: ~6.5 per character).
func labelWidth(s string) float64 { return 6.5 * float64(utf8.RuneCountInString(s)) }

// place puts a label spanning [lo, hi] in the lowest free row; ok is false when every row
// has a label in the way.
func (r *labelRows) place(lo, hi float64) (row int, ok bool) {
	const gap = 6
	for i := range r {
		free := true
		for _, span := range r[i] {
			if lo < span[1]+gap && span[0] < hi+gap {
				free = false
				break
			}
		}
		if free {
			r[i] = append(r[i], [2]float64{lo, hi})
			return i, true
		}
	}
	return 0, false
}

// claimLabel is "Donald Trump: 60M", or the value alone for a claim without a claimant.
func claimLabel(c result.Claim) string {
	if c.Claimant == "" {
		return result.Short(c.ClaimedValue)
	}
	return clip(c.Claimant, 20) + ": " + result.Short(c.ClaimedValue)
}
