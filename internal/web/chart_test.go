package web

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/result"
)

// minutesResult is a hand-made result of n minutes from spaceStart: connected i*100 ± 10
// (exact in even minutes), hearing half of it, the counter in all but minute 2.
func minutesResult(n int) *result.Result {
	from, to := spaceStart, spaceStart.Add(time.Duration(n)*time.Minute)
	r := &result.Result{StreamID: "s", Status: result.StatusFinal, From: &from, To: &to}
	for i := range n {
		v := float64(100 * (i + 1))
		c := result.Count{Value: v, Lo: v - 10, Hi: v + 10}
		if i%2 == 0 {
			c = result.Count{Value: v, Lo: v, Hi: v, Exact: true}
		}
		m := result.Minute{Minute: spaceStart.Add(time.Duration(i) * time.Minute), Connected: c,
			Hearing: result.Count{Value: v / 2, Lo: v / 2, Hi: v / 2, Exact: true}, Final: true}
		if i != 2 {
			d := uint64(3 * v)
			m.DisplayedMax = &d
		}
		r.Minutes = append(r.Minutes, m)
	}
	return r
}

func pairs(t *testing.T, points string) [][2]float64 {
	t.Helper()
	var out [][2]float64
	for _, p := range strings.Fields(points) {
		xs, ys, ok := strings.Cut(p, ",")
		x, err1 := strconv.ParseFloat(xs, 64)
		y, err2 := strconv.ParseFloat(ys, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("bad point %q in %q", p, points)
		}
		out = append(out, [2]float64{x, y})
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.06 } // points are written to 0.1

func TestChartHasAPointPerMinute(t *testing.T) {
	const n = 12
	c := newChart(minutesResult(n))
	if len(c.Series) != 3 {
		t.Fatalf("%d series, want connected, hearing, displayed", len(c.Series))
	}
	for _, s := range c.Series[:2] {
		if len(s.Points) != n || len(s.Lines) != 1 || len(pairs(t, s.Lines[0])) != n {
			t.Errorf("%s: %d points, lines %q; want %d points on one line", s.Key, len(s.Points), s.Lines, n)
		}
	}
	d := c.Series[2]
	if d.Key != "displayed_max" || len(d.Points) != n-1 || len(d.Lines) != 2 || len(d.Bands) != 0 {
		t.Errorf("displayed: %d points, %d lines, %d bands; want %d points, the line broken at the missing minute, no band",
			len(d.Points), len(d.Lines), len(d.Bands), n-1)
	}
	// Minutes are drawn at their middle, evenly spaced, in order.
	step := (c.Right - c.Left) / n
	for i, p := range c.Series[0].Points {
		if want := c.Left + step*(float64(i)+0.5); !near(p.X, want) {
			t.Errorf("minute %d at x=%.2f, want %.2f", i, p.X, want)
		}
	}
}

func TestChartGapBreaksTheLine(t *testing.T) {
	r := minutesResult(6)
	r.Minutes = append(r.Minutes[:3:3], r.Minutes[4:]...) // minute 3 has no data
	c := newChart(r)
	if got := len(c.Series[0].Lines); got != 2 {
		t.Errorf("%d lines across a missing minute, want 2", got)
	}
	if got := len(c.Series[0].Points); got != 5 {
		t.Errorf("%d points, want 5", got)
	}
}

func TestChartBandsSpanLoToHi(t *testing.T) {
	const n = 6
	r := minutesResult(n)
	c := newChart(r)
	_, yMax := valueTicks(1800) // the largest value: the counter, 3 × 600
	y := func(v float64) float64 { return c.Bottom - (c.Bottom-c.Top)*v/yMax }
	s := c.Series[0]
	band := pairs(t, s.Bands[0])
	if len(band) != 2*n {
		t.Fatalf("band has %d points, want %d (hi forwards, lo backwards)", len(band), 2*n)
	}
	for i, m := range r.Minutes {
		hi, lo, p := band[i], band[2*n-1-i], s.Points[i]
		if !near(hi[0], p.X) || !near(lo[0], p.X) {
			t.Errorf("minute %d: band at x=%.1f/%.1f, point at %.1f", i, hi[0], lo[0], p.X)
		}
		if !near(hi[1], y(m.Connected.Hi)) || !near(lo[1], y(m.Connected.Lo)) || !near(p.Y, y(m.Connected.Value)) {
			t.Errorf("minute %d: band %.1f–%.1f around %.1f, want %.1f–%.1f around %.1f",
				i, hi[1], lo[1], p.Y, y(m.Connected.Hi), y(m.Connected.Lo), y(m.Connected.Value))
		}
		if m.Connected.Exact && hi[1] != lo[1] {
			t.Errorf("minute %d is exact but its band is %.1f high", i, lo[1]-hi[1])
		}
	}
}

func TestChartMarksClaimsAtTheirSecond(t *testing.T) {
	const n = 20
	r := minutesResult(n)
	at := func(d time.Duration) *time.Time { t := spaceStart.Add(d); return &t }
	r.Claims = []result.Verdict{
		{Claim: result.Claim{ID: "in", Claimant: "A", ClaimedValue: 6e7, SaidAt: at(7*time.Minute + 30*time.Second)}, Verdict: "overstated"},
		{Claim: result.Claim{ID: "no-time", Claimant: "B", ClaimedValue: 1}, Verdict: "consistent"},
		{Claim: result.Claim{ID: "next-day", Claimant: "C", ClaimedValue: 1, SaidAt: at(26 * time.Hour)}, Verdict: "not measurable"},
	}
	c := newChart(r)
	if len(c.Claims) != 1 || c.OffChart != 1 {
		t.Fatalf("markers %+v, off chart %d; want the claim with a nearby time only, one off the chart", c.Claims, c.OffChart)
	}
	m := c.Claims[0]
	if want := c.Left + (c.Right-c.Left)*7.5/n; !near(m.X, want) || m.ID != "in" || m.Href != "#claim-in" {
		t.Errorf("marker %+v, want x=%.2f linking #claim-in", m, want)
	}
	if !strings.Contains(m.Label, "60M") {
		t.Errorf("label %q does not give the claimed figure", m.Label)
	}
}

func TestChartWidensToNearbyClaims(t *testing.T) {
	const n = 10
	r := minutesResult(n)
	said := spaceStart.Add(time.Duration(n)*time.Minute + 10*time.Minute) // 10 min after the end
	r.Claims = []result.Verdict{{Claim: result.Claim{ID: "late", SaidAt: &said}, Verdict: "not measurable"}}
	c := newChart(r)
	if len(c.Claims) != 1 {
		t.Fatalf("a claim 10 min after the end is not drawn")
	}
	// The axis now runs over 21 minutes; the data keeps its place at the left.
	if want := c.Left + (c.Right-c.Left)*20/21; !near(c.Claims[0].X, want) {
		t.Errorf("marker at %.1f, want %.1f", c.Claims[0].X, want)
	}
	if last := c.Series[0].Points[n-1]; !near(last.X, c.Left+(c.Right-c.Left)*9.5/21) {
		t.Errorf("last minute at %.1f", last.X)
	}
}

func TestChartShadesProvisionalMinutes(t *testing.T) {
	const n = 10
	r := minutesResult(n)
	for i := 6; i < n; i++ {
		r.Minutes[i].Final = false
	}
	r.Minutes[2].Final = false
	c := newChart(r)
	step := (c.Right - c.Left) / n
	want := []Span{{X: c.Left + 2*step, W: step}, {X: c.Left + 6*step, W: 4 * step}}
	if len(c.Provisional) != len(want) {
		t.Fatalf("spans %+v, want %+v", c.Provisional, want)
	}
	for i, s := range c.Provisional {
		if !near(s.X, want[i].X) || !near(s.W, want[i].W) {
			t.Errorf("span %d: %+v, want %+v", i, s, want[i])
		}
	}
}

func TestValueTicksAreNiceAndCoverTheMax(t *testing.T) {
	for _, top := range []float64{0, 0.4, 1, 3, 7, 10, 99, 100, 101, 1234, 1900, 2660, 987654, 1.2e6, 6e7} {
		ticks, yMax := valueTicks(top)
		if len(ticks) < 2 || len(ticks) > 11 || ticks[0] != 0 || ticks[len(ticks)-1] != yMax {
			t.Errorf("top %g: ticks %v, max %g", top, ticks, yMax)
			continue
		}
		step := ticks[1]
		if yMax < top || yMax-step >= top && top > 0 {
			t.Errorf("top %g: ticks %v do not end at the first step at or above it", top, ticks)
		}
		p := math.Pow(10, math.Floor(math.Log10(step)))
		if m := step / p; m != 1 && m != 2 && m != 5 || step < 1 {
			t.Errorf("top %g: step %g is not 1, 2 or 5 × 10^k listeners", top, step)
		}
		for i, v := range ticks {
			if v != float64(i)*step {
				t.Errorf("top %g: ticks %v are not evenly spaced", top, ticks)
				break
			}
		}
	}
}

func TestTimeTicksFallOnRoundUTCTimes(t *testing.T) {
	x := func(time.Time) float64 { return 0 }
	from := time.Date(2024, 8, 12, 23, 47, 0, 0, time.UTC)
	ticks := timeTicks(from, from.Add(75*time.Minute), x)
	var labels, subs []string
	for _, tk := range ticks {
		labels = append(labels, tk.Label)
		if tk.Sub != "" {
			subs = append(subs, tk.Sub)
		}
	}
	want := "23:50 00:00 00:10 00:20 00:30 00:40 00:50 01:00"
	if strings.Join(labels, " ") != want {
		t.Errorf("labels %v, want %s", labels, want)
	}
	if strings.Join(subs, "|") != "12 Aug 2024|13 Aug 2024" {
		t.Errorf("dates %v, want the first day and the next where it changes", subs)
	}
}

func TestChartOfNoDataHasNoSeries(t *testing.T) {
	c := newChart(&result.Result{StreamID: "s", Status: result.StatusNoData})
	if len(c.Series) != 0 || len(c.Claims) != 0 {
		t.Errorf("chart of no data: %+v", c)
	}
}

// TestClaimLabelsDoNotOverlap: labels of claims made close together go to different rows, far
// apart ones share the first; with every row in the way, the label is left out.
func TestClaimLabelsDoNotOverlap(t *testing.T) {
	var r labelRows
	for _, c := range []struct {
		lo, hi float64
		row    int
		ok     bool
	}{
		{100, 200, 0, true},
		{150, 250, 1, true},  // overlaps row 0
		{190, 300, 2, true},  // overlaps rows 0 and 1
		{400, 500, 0, true},  // clear of row 0's [100, 200]
		{120, 195, 0, false}, // overlaps a label in every row
		{207, 393, 0, true},  // fits between row 0's labels, 7 units from each
	} {
		row, ok := r.place(c.lo, c.hi)
		if row != c.row || ok != c.ok {
			t.Errorf("label [%v, %v] in row %d (%v), want %d (%v)", c.lo, c.hi, row, ok, c.row, c.ok)
		}
	}
}

func TestClaimLabelWithoutClaimant(t *testing.T) {
	if got := claimLabel(result.Claim{ClaimedValue: 60e6}); got != "60M" {
		t.Errorf("%q", got)
	}
	if got := claimLabel(result.Claim{Claimant: "Donald Trump", ClaimedValue: 60e6}); got != "Donald Trump: 60M" {
		t.Errorf("%q", got)
	}
	if got := claimTitle(result.Claim{ID: "c-1"}); got != "Claim c-1" {
		t.Errorf("%q", got)
	}
}
