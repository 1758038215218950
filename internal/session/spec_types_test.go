package session

import (
	"fmt"
	"slices"
	"testing"

	"github.com/earshot/earshot/internal/sketch"
	"github.com/earshot/earshot/internal/window"
)

// Hand-computed expectations (spec_cases_test.go) are written against these types only, from
// SPEC.md, docs/metrics.md and docs/time.md — never from this package's code — and run by
// TestSpecCases, which delivers each case's events in many ways (in order, shuffled, with
// copies, in parallel-like interleavings) and compares the final rows with the expectation.

// specT0 is the base of every case's times: 2024-08-13T00:00:00Z, a quarter-hour boundary.
const specT0 = int64(1723507200000)

// specEvent is one event as a client sends it. TS is in milliseconds after specT0. Events are
// imported with a trusted_time token, so event time = TS exactly.
type specEvent struct {
	ID       string // event_id; copies of an event share it (and everything else)
	Type     string // join, leave, heartbeat, play, error, displayed
	Listener string // listener_id (empty for displayed)
	TS       int64  // ms after specT0
	Played   int64  // heartbeat: played_ms
	Stalled  int64  // heartbeat: stalled_ms
	Muted    bool
	Code     string // error: error_code
	Count    int64  // displayed: displayed_count
}

// specMinute is the expected final row of one minute (all listeners of a case live in one
// stream; distinct counts are small, hence exact).
type specMinute struct {
	Connected, Hearing int
	// Qualified is the size of the minute's qualified set: distinct listeners whose session
	// reached 60 s of unmuted audio at a heartbeat with ts in this minute.
	Qualified int
	// QualifiedSessions counts such sessions (a listener may have several).
	QualifiedSessions           int
	PeakConcurrent, PeakHearing int
	// ConnectedPerSec / HearingPerSec, when non-nil, are the 60 per-second counts.
	ConnectedPerSec, HearingPerSec []int
	Joins, Leaves, Timeouts        int
	Plays, Errors, StartFailures   int
	ErrorsByCode                   map[string]int // nil: no errors
	PlayedMS, MutedMS, StalledMS   int64
	TrimmedMS                      int64 // played_trimmed_ms
	// HasDisplayed with DisplayedMax and DisplayedLast: the platform's counter in the minute.
	HasDisplayed                bool
	DisplayedMax, DisplayedLast int64
}

// specCume is the expected whole-stream distinct counts.
type specCume struct {
	Connected, Hearing, Qualified int
}

// specCase is one hand-computed scenario.
type specCase struct {
	Name string
	// Why names the rule tested and where it is written (SPEC section, docs/metrics.md row).
	Why    string
	Events []specEvent
	// Minutes are the expected rows by minute index after specT0 (minute 0 = [T0, T0+60 s)).
	// A minute not listed must have no row: nothing happened in it.
	Minutes map[int]specMinute
	// Quarters are the expected AQH persons by quarter-hour index after specT0; quarters not
	// listed have none.
	Quarters map[int]int
	// Cume, when set, is checked too.
	Cume *specCume
}

// TestSpecCases runs every hand-computed case in every delivery of the harness and compares
// the final rows with the hand-computed figures, field by field.
func TestSpecCases(t *testing.T) {
	for _, c := range specCases {
		t.Run(c.Name, func(t *testing.T) {
			f := final(t, c.Events)
			for i := range c.Minutes {
				if _, ok := f.m[i]; !ok {
					t.Errorf("minute %d: no row, want %+v", i, c.Minutes[i])
				}
			}
			for i, got := range f.m {
				want, ok := c.Minutes[i]
				if !ok {
					t.Errorf("minute %d: a row, want none: %s", i, brief(got))
					continue
				}
				for _, d := range specDiff(got, want) {
					t.Errorf("minute %d: %s", i, d)
				}
			}
			for q, n := range f.q {
				if c.Quarters[q] != int(n) {
					t.Errorf("quarter %d: AQH persons %d, want %d", q, n, c.Quarters[q])
				}
			}
			for q, n := range c.Quarters {
				if _, ok := f.q[q]; !ok && n != 0 {
					t.Errorf("quarter %d: AQH persons 0, want %d", q, n)
				}
			}
			if c.Cume != nil {
				got := f.cume()
				if got != *c.Cume {
					t.Errorf("cume %+v, want %+v", got, *c.Cume)
				}
			}
		})
	}
}

// specDiff lists the fields where a row differs from a hand-computed minute.
func specDiff(r window.MinuteRow, w specMinute) []string {
	var out []string
	chk := func(name string, got, want int64) {
		if got != want {
			out = append(out, fmt.Sprintf("%s %d, want %d", name, got, want))
		}
	}
	var qual sketch.Set
	if err := qual.UnmarshalBinary(r.QualifiedSketch); err != nil {
		return []string{err.Error()}
	}
	peak := func(ps []uint32) int64 {
		var m uint32
		for _, v := range ps {
			m = max(m, v)
		}
		return int64(m)
	}
	chk("connected", int64(r.Connected.Value), int64(w.Connected))
	chk("hearing", int64(r.Hearing.Value), int64(w.Hearing))
	chk("qualified set", int64(qual.Count().Value), int64(w.Qualified))
	chk("qualified sessions", int64(r.Qualified), int64(w.QualifiedSessions))
	chk("peak concurrent", peak(r.ConnectedPerSec), int64(w.PeakConcurrent))
	chk("peak hearing", peak(r.HearingPerSec), int64(w.PeakHearing))
	chk("joins", int64(r.Joins), int64(w.Joins))
	chk("leaves", int64(r.Leaves), int64(w.Leaves))
	chk("timeouts", int64(r.Timeouts), int64(w.Timeouts))
	chk("plays", int64(r.Plays), int64(w.Plays))
	chk("errors", int64(r.Errors), int64(w.Errors))
	chk("start failures", int64(r.StartFailures), int64(w.StartFailures))
	chk("played_ms", int64(r.PlayedMS), w.PlayedMS)
	chk("muted_ms", int64(r.MutedMS), w.MutedMS)
	chk("played_trimmed_ms", int64(r.PlayedTrimmedMS), w.TrimmedMS)
	chk("stalled_ms", int64(r.StalledMS), w.StalledMS)
	if len(r.ErrorsByCode) != len(w.ErrorsByCode) {
		out = append(out, fmt.Sprintf("errors by code %v, want %v", r.ErrorsByCode, w.ErrorsByCode))
	} else {
		for code, n := range w.ErrorsByCode {
			chk("errors "+code, int64(r.ErrorsByCode[code]), int64(n))
		}
	}
	if r.HasDisplayed != w.HasDisplayed {
		out = append(out, fmt.Sprintf("has displayed %v, want %v", r.HasDisplayed, w.HasDisplayed))
	} else if w.HasDisplayed {
		chk("displayed max", int64(r.DisplayedMax), w.DisplayedMax)
		chk("displayed last", int64(r.DisplayedLast), w.DisplayedLast)
	}
	for _, ps := range []struct {
		name string
		got  []uint32
		want []int
	}{{"connected per second", r.ConnectedPerSec, w.ConnectedPerSec}, {"hearing per second", r.HearingPerSec, w.HearingPerSec}} {
		if ps.want == nil {
			continue
		}
		g := make([]int, len(ps.got))
		for i, v := range ps.got {
			g[i] = int(v)
		}
		if !slices.Equal(g, ps.want) {
			out = append(out, fmt.Sprintf("%s %v, want %v", ps.name, g, ps.want))
		}
	}
	return out
}

// cume is the whole stream's distinct counts: unions of the minutes' sets.
func (f fin) cume() specCume {
	var c, h, q sketch.Set
	for _, r := range f.m {
		for _, x := range []struct {
			dst  *sketch.Set
			data []byte
		}{{&c, r.ConnectedSketch}, {&h, r.HearingSketch}, {&q, r.QualifiedSketch}} {
			var s sketch.Set
			if err := s.UnmarshalBinary(x.data); err != nil {
				panic(err)
			}
			if err := x.dst.Merge(&s); err != nil {
				panic(err)
			}
		}
	}
	return specCume{Connected: int(c.Count().Value), Hearing: int(h.Count().Value), Qualified: int(q.Count().Value)}
}
