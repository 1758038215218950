package result

import (
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/claims"
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
