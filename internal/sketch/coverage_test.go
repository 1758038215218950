package sketch

import (
	"flag"
	"math"
	"math/rand/v2"
	"testing"
)

var large = flag.Bool("large", false, "also check the 1M–5M band (make bench: ~1 minute)")

// coverageStream is the PCG stream of the coverage tests' keys; bench/calibrate measures the
// table on another (calibrationStream there).
const coverageStream = 0x5eed

// coverageSeeds per band: over 1 000 trials the coverage of a correct 95 % interval has a
// standard deviation of 0.69 points, so 93–97 % is ±2.9 of them; over 100 it would fall outside
// one time in four by chance alone.
const coverageSeeds = 1000

// partitions is how many aggregator partitions a sum is split over, as a 12-partition topic.
const partitions = 12

// bandCoverage inserts, for each seed, n distinct keys (n log-uniform in [lo, hi)) into one
// set and, split by key, into 12 partition sets, and counts how often the 95 % intervals of the
// single count and of the sum (Sum) cover n. Sums whose every partition is still exact must be
// exactly n; the coverage of sums is over the inexact ones.
func bandCoverage(t *testing.T, lo, hi float64, seeds int) {
	t.Helper()
	var single, sums, inexactSums int
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, coverageStream))
		n := int(math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo))))
		var s Set
		parts := make([]Set, partitions)
		for range n {
			k := r.Uint64()
			s.Insert(k)
			parts[k%partitions].Insert(k)
		}
		if c := s.Count(); covers(c, n) {
			single++
		}
		counts := make([]Count, partitions)
		for i := range parts {
			counts[i] = parts[i].Count()
		}
		sum := Sum(counts...)
		switch {
		case sum.Exact && sum.Value != float64(n):
			t.Fatalf("seed %d: an exact sum of %v, truth %d", seed, sum.Value, n)
		case !sum.Exact:
			inexactSums++
			if covers(sum, n) {
				sums++
			}
		}
	}
	check := func(what string, covered, of int) {
		t.Helper()
		pct := 100 * float64(covered) / float64(of)
		t.Logf("%s, %.0f–%.0f: %d/%d = %.1f %% covered", what, lo, hi, covered, of, pct)
		if of > 0 && (pct < 93 || pct > 97) {
			t.Errorf("%s, %.0f–%.0f: 95 %% intervals covered the truth %.1f %% of the time (%d/%d), want 93–97 %%", what, lo, hi, pct, covered, of)
		}
	}
	check("single sketch", single, seeds)
	if inexactSums >= 200 { // the floor: ≥ 200 trials a band
		check("sum over 12 partitions", sums, inexactSums)
	} else {
		t.Logf("sum over 12 partitions, %.0f–%.0f: %d of %d sums exact (every partition under the exact limit)", lo, hi, seeds-inexactSums, seeds)
	}
}

func covers(c Count, n int) bool { return c.Lo <= float64(n) && float64(n) <= c.Hi }

// TestIntervalCoverage is the statistical-honesty check, band by band: the stated 95 %
// intervals must cover the truth 93–97 % of the time at every cardinality, for one sketch and
// for the sum of 12 partitions' sketches (what reports add up). The 1M–5M band takes a minute
// and runs with -large (make bench).
func TestIntervalCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical test takes ~20 s")
	}
	for _, b := range [][2]float64{{4097, 10_000}, {10_000, 100_000}, {100_000, 1_000_000}} {
		bandCoverage(t, b[0], b[1], coverageSeeds)
	}
	if *large {
		bandCoverage(t, 1_000_000, 5_000_000, 300)
	}
}

// TestIntervalWidth: the requirement behind the precision (sketch.go) — a 95 % interval within
// ±1 % at every cardinality the table covers.
func TestIntervalWidth(t *testing.T) {
	for v := float64(ExactLimit + 1); v < 1e8; v *= 1.1 {
		c := Estimate(v)
		if half := (c.Hi - c.Value) / c.Value; half > 0.01 || half <= 0 {
			t.Fatalf("at %.0f the half-interval is ±%.3f %%", v, half*100)
		}
	}
}
