package sim

import (
	"math"
	"slices"
)

// Truth is the exact answer for a generated stream, computed from the plans by the SPEC's
// definitions (not by the aggregator's code).
type Truth struct {
	Minutes  map[int64]*MinuteTruth // by minute start, unix ms
	Quarters map[int64]int          // AQH persons by quarter start
	// PeakConcurrent and PeakHearing are the largest per-second counts over the stream.
	PeakConcurrent, PeakHearing                      int
	CumeConnected, CumeHearing, CumeQualified        int
	PlayedMS                                         int64
	Joins, Leaves, Timeouts, Plays, Errors, Failures int
	DisplayedMax                                     int64
}

// MinuteTruth is the exact answer for one minute.
type MinuteTruth struct {
	Connected, Hearing                               int
	Joins, Leaves, Timeouts, Plays, Errors, Failures int
	PlayedMS, MutedMS                                int64
	PeakConcurrent, PeakHearing                      int
	DisplayedMax, DisplayedLast                      int64
	HasDisplayed                                     bool
}

// Oracle thresholds (SPEC defaults).
const (
	sessionTimeoutMS = 60_000
	hearingMinMS     = 2_000
	qualifiedMS      = 60_000
	aqhMinMS         = 300_000
	startFailMS      = 30_000
)

func minuteOf(t int64) int64  { return t - mod(t, 60_000) }
func quarterOf(t int64) int64 { return t - mod(t, 900_000) }
func mod(a, b int64) int64    { return ((a % b) + b) % b }

// Oracle computes the truth for s.
func Oracle(s *Stream) *Truth {
	tr := &Truth{Minutes: map[int64]*MinuteTruth{}, Quarters: map[int64]int{}}
	m := func(t int64) *MinuteTruth {
		k := minuteOf(t)
		if tr.Minutes[k] == nil {
			tr.Minutes[k] = &MinuteTruth{}
		}
		return tr.Minutes[k]
	}
	// Per-second counts as differences (+1 where an interval starts counting, −1 where it
	// stops), by unix second: a million listeners' hours are a few million entries, not a
	// billion increments.
	conn := map[int64]int{}
	hear := map[int64]int{}
	for i := range s.Plans {
		p := &s.Plans[i]
		end := sessionEnd(p)
		if p.Leaves {
			m(p.End).Leaves++
			tr.Leaves++
		} else {
			m(end).Timeouts++
			tr.Timeouts++
		}
		m(p.Join).Joins++
		tr.Joins++
		if p.AudioStart > 0 {
			m(p.AudioStart).Plays++
			tr.Plays++
		}
		if p.ErrorAt > 0 {
			m(p.ErrorAt).Errors++
			tr.Errors++
		}
		// Connected in every minute the session [join, end) touches, its first instant included.
		for k := minuteOf(p.Join); k < end || k == minuteOf(p.Join); k += 60_000 {
			m(k).Connected++
		}
		addSeconds(conn, p.Join, end)
		// Start failure: no play (or audible audio) within 30 s of joining.
		started := p.AudioStart > 0 && p.AudioStart-p.Join < startFailMS
		if !started {
			tr.Failures++
			m(min(p.Join+startFailMS, end)).Failures++
		}
		// Audio, right-aligned in each heartbeat: [T−Played, T).
		perMinute := map[int64]int64{}
		perQuarter := map[int64]int64{}
		var total, audEnd int64
		for b := range p.Beats() {
			if b.Played == 0 {
				continue
			}
			from := b.T - b.Played
			for k := minuteOf(from); k < b.T; k += 60_000 {
				ov := min(b.T, k+60_000) - max(from, k)
				if p.Muted {
					m(k).MutedMS += ov
					continue
				}
				m(k).PlayedMS += ov
				perMinute[k] += ov
				perQuarter[quarterOf(k)] += ov
			}
			if p.Muted {
				continue
			}
			total += b.Played
			addSeconds(hear, max(from, audEnd), b.T)
			audEnd = b.T
		}
		tr.PlayedMS += total
		heard := false
		for k, ms := range perMinute {
			if ms >= hearingMinMS {
				m(k).Hearing++
				heard = true
			}
		}
		for q, ms := range perQuarter {
			if ms >= aqhMinMS {
				tr.Quarters[q]++
			}
		}
		tr.CumeConnected++
		if heard {
			tr.CumeHearing++
		}
		if total >= qualifiedMS {
			tr.CumeQualified++
		}
	}
	sweepSeconds(conn, func(sec int64, n int) {
		mt := m(sec * 1000)
		mt.PeakConcurrent = max(mt.PeakConcurrent, n)
		tr.PeakConcurrent = max(tr.PeakConcurrent, n)
	})
	sweepSeconds(hear, func(sec int64, n int) {
		mt := m(sec * 1000)
		mt.PeakHearing = max(mt.PeakHearing, n)
		tr.PeakHearing = max(tr.PeakHearing, n)
	})
	for _, d := range s.Displayed {
		mt := m(d.T)
		mt.HasDisplayed = true
		mt.DisplayedMax = max(mt.DisplayedMax, d.Played)
		mt.DisplayedLast = d.Played // sent in time order
		tr.DisplayedMax = max(tr.DisplayedMax, d.Played)
	}
	return tr
}

// AQHPersons is the Nielsen average: the mean of the quarters' AQH persons over the quarter
// hours from the first to the last with a connected listener.
func (tr *Truth) AQHPersons() float64 {
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for k, mt := range tr.Minutes {
		if mt.Connected > 0 {
			first, last = min(first, quarterOf(k)), max(last, quarterOf(k))
		}
	}
	if first > last {
		return 0
	}
	sum, n := 0, 0
	for q := first; q <= last; q += 900_000 {
		sum += tr.Quarters[q]
		n++
	}
	return float64(sum) / float64(n)
}

// addSeconds counts a listener in every second whose middle (sec·1000 + 500 ms) lies in
// [from, to): the seconds [ceil((from−500)/1000), ceil((to−500)/1000)).
func addSeconds(diff map[int64]int, from, to int64) {
	a, b := ceilDiv(from-500, 1000), ceilDiv(to-500, 1000)
	if a < b {
		diff[a]++
		diff[b]--
	}
}

// sweepSeconds calls f with the count of every second in which it is positive — once per
// minute for a stretch of seconds with the same count (the minute's first second of the
// stretch), as a minute's peak needs no more.
func sweepSeconds(diff map[int64]int, f func(sec int64, n int)) {
	secs := make([]int64, 0, len(diff))
	for s := range diff {
		secs = append(secs, s)
	}
	slices.Sort(secs)
	n := 0
	for i, s := range secs {
		n += diff[s]
		if n <= 0 || i+1 == len(secs) {
			continue
		}
		for sec := s; sec < secs[i+1]; sec += 60 - mod(sec, 60) {
			f(sec, n)
		}
	}
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a > 0) == (b > 0) {
		q++
	}
	return q
}
