package result

import (
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/sketch"
)

// TestFactorNeverRoundsToOneOrZero: a factor prints as ×1.0 only when it is 1 and as ×0.0
// never: "overstated ×1.0" contradicts itself, and "tracks connections ×0.0" says the counter
// is flat zero.
func TestFactorNeverRoundsToOneOrZero(t *testing.T) {
	for _, c := range []struct {
		k    float64
		want string
	}{
		{1, "×1.0"}, {1.4, "×1.4"}, {1.04, "×1.04"}, {1.0004, "×1.0004"}, {0.96, "×0.96"},
		{0.04, "×0.04"}, {0.26, "×0.3"}, {0.0012, "×0.001"},
	} {
		if got := Factor(c.k); got != c.want {
			t.Errorf("Factor(%v) = %s, want %s", c.k, got, c.want)
		}
	}
}

// TestOverstatedAtATightToleranceDoesNotSayX1: with --tolerance 0.01 a claim 4 % above the
// measured peak is overstated; its sentence must not call it "overstated ×1.0".
func TestOverstatedAtATightToleranceDoesNotSayX1(t *testing.T) {
	r := night()
	c := claims.Claim{ID: "a", StreamID: "space", ClaimedValue: 854, Metric: claims.MetricConcurrent,
		SaidAt: time.Date(2024, 8, 13, 1, 0, 40, 0, time.UTC)}
	res := Build("space", r, []claims.Verdict{claims.Check(c, r, 0.01)})
	v := res.Claims[0]
	if v.Verdict != claims.Overstated {
		t.Fatalf("verdict %s", v.Verdict)
	}
	if strings.Contains(v.Sentence, "×1.0;") || !strings.Contains(v.Sentence, "overstated ×1.04") {
		t.Errorf("sentence: %s", v.Sentence)
	}
}

// TestShortAtTheUnitBoundary: a count that rounds up to the next unit is shown in it, as apps
// do: 999 999 is 1M, not "1000K" (the sentence said "the platform displayed 1000K").
func TestShortAtTheUnitBoundary(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{999_999, "1M"}, {999_950, "1M"}, {999_949, "999.9K"}, {999_960_000, "1B"}, {9_999, "9 999"}, {9_999.6, "10K"},
		{1_213_000, "1.2M"}, {45_300, "45.3K"},
	} {
		if got := Short(c.v); got != c.want {
			t.Errorf("Short(%v) = %s, want %s", c.v, got, c.want)
		}
	}
}

// TestRangeClaimsAreCheckedOnTheWholeStream: `report --from --to` shows part of a stream, but
// docs/report.md compares a cume claim with the distinct listeners over the stream and a
// concurrent one with the minute it was said in. Load used to check claims against the range:
// a cume claim matching the stream was called overstated against the range's cume ("Over the
// stream, 500 distinct listeners connected" — a range figure presented as the stream's), and a
// concurrent claim said outside the range was "not measurable" although that minute was
// measured.
func TestRangeClaimsAreCheckedOnTheWholeStream(t *testing.T) {
	whole := night()
	part := night()
	part.Minutes = part.Minutes[:1] // 00:59 only
	part.To = part.From.Add(time.Minute)
	part.PeakConcurrent, part.PeakConcurrentAt = 600, part.From
	part.CumeConnected = ex(500)
	part.DisplayedMax, part.DisplayedMaxAt = 0, time.Time{}
	cs := []claims.Claim{
		{ID: "cume", StreamID: "space", ClaimedValue: 5_000, Metric: claims.MetricCume},
		{ID: "conc", StreamID: "space", ClaimedValue: 60e6, Metric: claims.MetricConcurrent,
			SaidAt: time.Date(2024, 8, 13, 1, 0, 40, 0, time.UTC)},
	}
	res := checked("space", part, whole, cs, Tolerance)
	if res.Totals.CumeConnected.Value != 500 || len(res.Minutes) != 1 {
		t.Fatalf("the totals are not the range's: %+v", res.Totals.CumeConnected)
	}
	if v := res.Claims[0]; v.Verdict != claims.Consistent || !strings.Contains(v.Sentence, "5 012 distinct listeners") {
		t.Errorf("cume claim: %s: %s", v.Verdict, v.Sentence)
	}
	if v := res.Claims[1]; v.Verdict != claims.Overstated || !strings.Contains(v.Sentence, "At 01:00 UTC, 821 listeners (exact) were connected") ||
		!strings.Contains(v.Sentence, "×73 000") {
		t.Errorf("concurrent claim: %s: %s", v.Verdict, v.Sentence)
	}
	// Without a range, Load checks against the report itself, as Build does.
	if got, want := checked("space", whole, whole, cs, Tolerance).Claims[0].Sentence, Build("space", whole, []claims.Verdict{claims.Check(cs[0], whole, Tolerance)}).Claims[0].Sentence; got != want {
		t.Errorf("%s\n!= %s", got, want)
	}
}

func ex(v float64) sketch.Count { return sketch.Count{Value: v, Lo: v, Hi: v, Exact: true} }
