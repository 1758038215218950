package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// makePlans draws every listener's plan from r, in listener order. The draws and their order
// are the simulation's identity: changing them changes every seed's stream.
func makePlans(sc Scenario, r *rand.Rand) []Plan {
	start := sc.Start.UnixMilli()
	end := start + sc.Duration.Milliseconds()
	audio := start + sc.AudioDelay.Milliseconds()
	hbMS := sc.Heartbeat.Milliseconds()
	stayMin, stayMax := int64(2), int64(62)
	if sc.StayMin > 0 || sc.StayMax > 0 {
		stayMin, stayMax = int64(sc.StayMin/time.Minute), int64(sc.StayMax/time.Minute)
	}
	staySpan := max(1, stayMax-stayMin)
	plans := make([]Plan, sc.Listeners)
	for i := range plans {
		p := &plans[i]
		p.ID, p.Every = listenerID(i), hbMS
		// Joins: most before the audio starts (waiting in the room), the rest after.
		if r.Float64() < 0.7 {
			p.Join = start + r.Int64N(max(1, audio-start))
		} else {
			p.Join = audio + r.Int64N(max(1, end-audio))
		}
		p.Join -= p.Join % 1000
		stay := (stayMin + r.Int64N(staySpan)) * 60_000
		p.End = min(p.Join+stay, end-1)
		p.Leaves = r.Float64() >= sc.VanishRate
		p.Muted = r.Float64() < sc.MuteRate
		fails := r.Float64() < sc.FailRate
		if !fails && p.End > audio {
			p.AudioStart = max(audio, p.Join) + 500 + r.Int64N(3000)
			if p.AudioStart >= p.End {
				p.AudioStart = 0
			}
		}
		if fails {
			p.FailsWithErrorCode = []string{"network", "overload", "timeout"}[r.IntN(3)]
			if t := max(audio, p.Join) + 5000; p.End > audio && t < p.End {
				p.ErrorAt = t
			}
		}
		// A listener who vanishes sends nothing after its last heartbeat; one who leaves says
		// so at the end of its stay.
		if !p.Leaves {
			p.End = p.lastBeat()
		}
	}
	return plans
}

// listenerID is "listener-%06d" without fmt: a million of them are made per night.
func listenerID(i int) string {
	b := append(make([]byte, 0, 16), "listener-"...)
	for n := len(strconv.Itoa(i)); n < 6; n++ {
		b = append(b, '0')
	}
	return string(strconv.AppendInt(b, int64(i), 10))
}

// lastBeat is the time of the last heartbeat at or before End, or Join without any.
func (p *Plan) lastBeat() int64 {
	if p.End < p.Join+p.Every {
		return p.Join
	}
	return p.Join + (p.End-p.Join)/p.Every*p.Every
}

// lastEvent is the time of p's last event.
func (p *Plan) lastEvent() int64 { return max(p.End, p.AudioStart, p.ErrorAt) }

// displayedSeries is the platform's counter, every DisplayedEvery (30 s by default) from the
// start while the stream has events: everyone who ever joined before the instant shown, or
// everyone connected at it, times DisplayedFactor.
func displayedSeries(sc Scenario, plans []Plan) []Beat {
	var count func(t int64) int
	switch sc.DisplayedSeries {
	case "", DisplayedJoined:
		joins := make([]int64, len(plans))
		for i := range plans {
			joins[i] = plans[i].Join
		}
		slices.Sort(joins)
		count = func(t int64) int { i, _ := slices.BinarySearch(joins, t); return i }
	case DisplayedConnected:
		count = connectedCounter(plans)
	default:
		panic(fmt.Sprintf("sim: unknown DisplayedSeries %q (want %q or %q)", sc.DisplayedSeries, DisplayedJoined, DisplayedConnected))
	}
	every := int64(30_000)
	if sc.DisplayedEvery > 0 {
		every = max(1, sc.DisplayedEvery.Milliseconds())
	}
	last := int64(-1 << 62)
	for i := range plans {
		last = max(last, plans[i].lastEvent())
	}
	var out []Beat
	for t := sc.Start.UnixMilli(); t <= last; t += every {
		out = append(out, Beat{T: t, Played: int64(float64(count(t)) * sc.DisplayedFactor)})
	}
	return out
}

// connectedCounter returns how many listeners are connected at an instant t (join <= t < end
// of the session), from the plans, in O(log n) per instant.
func connectedCounter(plans []Plan) func(t int64) int {
	joins := make([]int64, 0, len(plans))
	ends := make([]int64, 0, len(plans))
	for i := range plans {
		joins = append(joins, plans[i].Join)
		ends = append(ends, sessionEnd(&plans[i]))
	}
	slices.Sort(joins)
	slices.Sort(ends)
	// upTo counts the values <= t of a sorted slice.
	upTo := func(xs []int64, t int64) int {
		i, _ := slices.BinarySearch(xs, t+1)
		return i
	}
	// Every session has join <= end, so the sessions begun minus the sessions ended by t are
	// the ones open at t.
	return func(t int64) int { return upTo(joins, t) - upTo(ends, t) }
}

// sessionEnd is when p's session ends: at its leave, or session_timeout after its last event
// when it vanishes (SPEC, connected).
func sessionEnd(p *Plan) int64 {
	if p.Leaves {
		return p.End
	}
	return max(p.Join, p.AudioStart, p.ErrorAt, p.lastBeat()) + sessionTimeoutMS
}
