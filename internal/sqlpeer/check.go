package sqlpeer

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/earshot/earshot/internal/sim"
)

// Check compares minutes and totals with the simulator's exact answer and describes every
// difference (none: nil). A minute missing on one side counts as all zeros. Tests and the
// benchmark share it, so the benchmark times only figures that are right.
func Check(ms []Minute, tot StreamTotals, tr *sim.Truth) []string {
	got := map[int64]Minute{}
	for _, m := range ms {
		got[m.Start.UnixMilli()] = m
	}
	keys := slices.Collect(maps.Keys(tr.Minutes))
	for k := range got {
		if tr.Minutes[k] == nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var diffs []string
	for _, k := range keys {
		var w sim.MinuteTruth
		if tr.Minutes[k] != nil {
			w = *tr.Minutes[k]
		}
		g := got[k]
		want := [4]uint64{uint64(w.Connected), uint64(w.Hearing), uint64(w.PeakConcurrent), uint64(w.PeakHearing)}
		have := [4]uint64{g.Connected, g.Hearing, g.PeakConcurrent, g.PeakConcurrentHearing}
		if have != want {
			diffs = append(diffs, fmt.Sprintf("minute %s: connected, hearing, peak, peak hearing = %v, oracle %v",
				time.UnixMilli(k).UTC().Format("2006-01-02 15:04"), have, want))
		}
	}
	want := StreamTotals{uint64(tr.CumeConnected), uint64(tr.CumeHearing), uint64(tr.PeakConcurrent), uint64(tr.PeakHearing)}
	if tot != want {
		diffs = append(diffs, fmt.Sprintf("totals %+v, oracle %+v", tot, want))
	}
	return diffs
}
