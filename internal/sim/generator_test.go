package sim

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestGeneratorDelivery checks the streamed batches as a collector would see them: in send
// order, every event sent after it happened and at most one interval plus the configured
// delays later, every distinct event in exactly one original batch, requests of bounded size.
func TestGeneratorDelivery(t *testing.T) {
	sc := DemoScenario(3000)
	sc.LateRate, sc.LateBy = 0.1, 2*time.Minute
	sc.DuplicateRate, sc.DuplicateBy = 0.05, time.Minute
	g := NewGenerator(sc)
	hb := sc.Heartbeat.Milliseconds()
	maxDelay := hb + sc.LateBy.Milliseconds() + sc.DuplicateBy.Milliseconds()
	seen := map[string]int{}
	prev := int64(-1 << 62)
	batches, copies := 0, 0
	for b := range g.All() {
		batches++
		if b.At < prev {
			t.Fatalf("batch %d sent at %d after one sent at %d", batches, b.At, prev)
		}
		prev = b.At
		if len(b.Events) == 0 || len(b.Events) > 4*batchListeners {
			t.Fatalf("batch %d carries %d events", batches, len(b.Events))
		}
		first := seen[b.Events[0].EventID] == 0
		for _, e := range b.Events {
			if e.TS >= b.At || b.At-e.TS > maxDelay {
				t.Fatalf("event %s at %d sent at %d", e.EventID, e.TS, b.At)
			}
			if (seen[e.EventID] == 0) != first {
				t.Fatalf("batch %d mixes new events and copies", batches)
			}
			seen[e.EventID]++
		}
		if !first {
			copies++
		}
	}
	if len(seen) != g.Events() {
		t.Fatalf("%d distinct event ids, generator counted %d", len(seen), g.Events())
	}
	// 3 000 listeners in requests of ~500: 6 shards an interval; a few per cent retried.
	if copies == 0 || copies > batches/10 {
		t.Fatalf("%d of %d batches are copies (DuplicateRate 5 %%)", copies, batches)
	}
}

// TestSweepSecondsMatchesCounting checks the oracle's difference-map peaks against counting
// every second of random intervals one by one.
func TestSweepSecondsMatchesCounting(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	base := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC).UnixMilli()
	diff := map[int64]int{}
	brute := map[int64]int{}
	for range 500 {
		from := base + r.Int64N(600_000)
		to := from + r.Int64N(200_000)
		addSeconds(diff, from, to)
		// The definition: second s counts when its middle, s·1000 + 500 ms, is in [from, to).
		for s := from/1000 - 1; s*1000+500 < to; s++ {
			if s*1000+500 >= from {
				brute[s]++
			}
		}
	}
	peak := map[int64]int{}
	sweepSeconds(diff, func(sec int64, n int) { peak[sec/60] = max(peak[sec/60], n) })
	want := map[int64]int{}
	for s, n := range brute {
		want[s/60] = max(want[s/60], n)
	}
	if len(peak) != len(want) {
		t.Fatalf("%d minutes with a peak, want %d", len(peak), len(want))
	}
	for m, n := range want {
		if peak[m] != n {
			t.Errorf("minute %d: peak %d, counting %d", m, peak[m], n)
		}
	}
}
