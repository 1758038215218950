package sim

import (
	"testing"
	"time"

	"github.com/earshot/earshot/internal/window"
)

// MinuteFigures are the measured figures of one minute (all partitions together).
type MinuteFigures struct {
	Connected, Hearing                               float64
	ConnectedLo, ConnectedHi, HearingLo, HearingHi   float64
	Joins, Leaves, Timeouts, Plays, Errors, Failures uint64
	PlayedMS, MutedMS                                uint64
	PeakConcurrent, PeakHearing                      uint64
	DisplayedMax, DisplayedLast                      uint64
	HasDisplayed                                     bool
}

// FiguresOf reads one partition's minute row.
func FiguresOf(m window.MinuteRow) MinuteFigures {
	c, h := m.Connected, m.Hearing
	peak := func(perSec []uint32) uint64 {
		var best uint32
		for _, v := range perSec {
			best = max(best, v)
		}
		return uint64(best)
	}
	return MinuteFigures{Connected: c.Value, ConnectedLo: c.Lo, ConnectedHi: c.Hi, Hearing: h.Value, HearingLo: h.Lo, HearingHi: h.Hi,
		Joins: m.Joins, Leaves: m.Leaves, Timeouts: m.Timeouts, Plays: m.Plays, Errors: m.Errors, Failures: m.StartFailures,
		PlayedMS: m.PlayedMS, MutedMS: m.MutedMS, PeakConcurrent: peak(m.ConnectedPerSec), PeakHearing: peak(m.HearingPerSec),
		DisplayedMax: m.DisplayedMax, DisplayedLast: m.DisplayedLast, HasDisplayed: m.HasDisplayed}
}

// Compare checks every minute of the truth against the measured figures: exact metrics
// exactly, distinct counts inside their stated intervals.
func Compare(t testing.TB, tr *Truth, measured func(start int64) (MinuteFigures, bool)) {
	t.Helper()
	bad := 0
	for start, want := range tr.Minutes {
		got, ok := measured(start)
		at := time.UnixMilli(start).UTC().Format("15:04")
		if !ok {
			if want.Connected > 0 || want.HasDisplayed {
				t.Errorf("minute %s: no row, truth %+v", at, *want)
				bad++
			}
			continue
		}
		check := func(name string, g, w uint64) {
			if g != w {
				t.Errorf("minute %s: %s %d, truth %d", at, name, g, w)
				bad++
			}
		}
		within := func(name string, v, lo, hi float64, w int) {
			if float64(w) < lo || float64(w) > hi {
				t.Errorf("minute %s: %s %.0f [%.0f, %.0f] does not cover the truth %d", at, name, v, lo, hi, w)
				bad++
			}
		}
		within("connected", got.Connected, got.ConnectedLo, got.ConnectedHi, want.Connected)
		within("hearing", got.Hearing, got.HearingLo, got.HearingHi, want.Hearing)
		check("joins", got.Joins, uint64(want.Joins))
		check("leaves", got.Leaves, uint64(want.Leaves))
		check("timeouts", got.Timeouts, uint64(want.Timeouts))
		check("plays", got.Plays, uint64(want.Plays))
		check("errors", got.Errors, uint64(want.Errors))
		check("start failures", got.Failures, uint64(want.Failures))
		check("played_ms", got.PlayedMS, uint64(want.PlayedMS))
		check("muted_ms", got.MutedMS, uint64(want.MutedMS))
		check("peak concurrent", got.PeakConcurrent, uint64(want.PeakConcurrent))
		check("peak hearing", got.PeakHearing, uint64(want.PeakHearing))
		if want.HasDisplayed {
			check("displayed max", got.DisplayedMax, uint64(want.DisplayedMax))
			check("displayed last", got.DisplayedLast, uint64(want.DisplayedLast))
		}
		if bad > 20 {
			t.Fatal("too many differences")
		}
	}
}
