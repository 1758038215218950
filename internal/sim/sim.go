// Package sim generates a simulated live stream — listeners who join, wait, hear or fail to,
// mute, leave or vanish, retry batches, and a platform that displays its own counter — and
// computes the exact answers for it from the listeners' plans (the oracle), independently of
// the aggregator's session code. `earshot simulate` sends it through a collector; the
// end-to-end tests compare what lands in ClickHouse with the oracle.
package sim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/earshot/earshot/pkg/client"
)

// Scenario describes a stream to simulate.
type Scenario struct {
	StreamID string
	// Start is the scheduled start; listeners begin joining at Start.
	Start time.Time
	// AudioDelay is how late the audio starts (the 2024 Space: ~45 minutes).
	AudioDelay time.Duration
	// Duration is the event-time length of the simulation from Start.
	Duration  time.Duration
	Listeners int
	// FailRate is the share of listeners who never get audio (overload, errors).
	FailRate float64
	// MuteRate is the share of listeners whose player is muted throughout.
	MuteRate float64
	// VanishRate is the share who disappear without a leave event (their session times out).
	VanishRate float64
	// DuplicateRate is the share of client batches sent twice (retries), DuplicateBy how much
	// later the copy goes (0: right after the batch).
	DuplicateRate float64
	DuplicateBy   time.Duration
	// LateRate is the share of batches sent late — a player offline for a while, a retry after
	// a 503 — by up to LateBy.
	LateRate float64
	LateBy   time.Duration
	// DisplayedFactor scales the platform's displayed counter: it shows DisplayedSeries times
	// this factor.
	DisplayedFactor float64
	// DisplayedSeries is what the platform's counter counts, before DisplayedFactor:
	// DisplayedJoined (also when empty) or DisplayedConnected. Tests of displayed-counter
	// forensics build a counter from a known series and factor and check that it is recovered.
	DisplayedSeries string
	// DisplayedEvery is how often the platform's counter is reported (0: every 30 s). A counter
	// sampled twice a minute misses most of a minute's ups and downs, which the per-second
	// peaks see; a client that reports what it shows with each heartbeat samples every 10 s.
	DisplayedEvery time.Duration
	// Heartbeat is the clients' heartbeat interval (SPEC: 10 s).
	Heartbeat time.Duration
	Seed      uint64
}

// What a simulated platform's displayed counter counts (Scenario.DisplayedSeries).
const (
	// DisplayedJoined: every listener who ever joined, like a room's "joined" count (join
	// events before the instant shown). The default.
	DisplayedJoined = "joined"
	// DisplayedConnected: the listeners connected at the instant shown, by the plans'
	// sessions (the oracle's definition: from the join to the leave, or to the session
	// timeout after the last event of a listener who vanishes).
	DisplayedConnected = "connected"
)

// DemoScenario is a small-scale model of the 12 Aug 2024 Space: listeners pile in from the
// scheduled start, the audio begins 45 minutes late, a quarter never hears anything.
func DemoScenario(listeners int) Scenario {
	return Scenario{
		StreamID:        "x-space-2024-08-12-sim",
		Start:           time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC), // 8:00 pm EDT
		AudioDelay:      45 * time.Minute,
		Duration:        75 * time.Minute,
		Listeners:       listeners,
		FailRate:        0.25,
		MuteRate:        0.05,
		VanishRate:      0.3,
		DuplicateRate:   0.02,
		DisplayedFactor: 1.0,
		Heartbeat:       10 * time.Second,
		Seed:            20240812,
	}
}

// Plan is one listener's behaviour (all times unix ms).
type Plan struct {
	ID                 string
	Join               int64
	AudioStart         int64 // 0: never hears
	End                int64 // leave time, or last heartbeat when vanishing
	Leaves, Muted      bool
	Heartbeats         []Beat
	FailsWithErrorCode string
	ErrorAt            int64 // 0: no error event
}

// Beat is one heartbeat: at T, Played ms of audio (right-aligned: [T−Played, T)).
type Beat struct {
	T      int64
	Played int64
}

// Stream is a generated scenario: plans and the events to send, in send order.
type Stream struct {
	Scenario Scenario
	Plans    []Plan
	// Batches are the client requests in the order a collector receives them; duplicates
	// (retries) appear as repeated batches.
	Batches [][]client.Event
	// SendAt is when each batch is sent (unix ms of event time): clients post every heartbeat
	// interval what happened since their last post.
	SendAt []int64
	Events int
	// Displayed is the platform counter as sent: T and the count (in Played).
	Displayed []Beat
}

// Generate builds the stream deterministically from the scenario's seed.
func Generate(sc Scenario) *Stream {
	r := rand.New(rand.NewPCG(sc.Seed, 0xea75))
	start := sc.Start.UnixMilli()
	end := start + sc.Duration.Milliseconds()
	audio := start + sc.AudioDelay.Milliseconds()
	hbMS := sc.Heartbeat.Milliseconds()
	st := &Stream{Scenario: sc}
	type timed struct {
		t int64
		e client.Event
	}
	var evs []timed
	for i := range sc.Listeners {
		p := Plan{ID: fmt.Sprintf("listener-%06d", i)}
		// Joins: most before the audio starts (waiting in the room), the rest after.
		if r.Float64() < 0.7 {
			p.Join = start + r.Int64N(max(1, audio-start))
		} else {
			p.Join = audio + r.Int64N(max(1, end-audio))
		}
		p.Join -= p.Join % 1000
		stay := (2 + r.Int64N(60)) * 60_000
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
		}
		id := func(kind string, t int64) string { return fmt.Sprintf("%s-%s-%d", p.ID, kind, t) }
		add := func(t int64, e client.Event) {
			e.StreamID, e.ListenerID, e.TS = sc.StreamID, p.ID, t
			evs = append(evs, timed{t, e})
		}
		add(p.Join, client.Event{EventID: id("join", p.Join), Type: "join"})
		if p.AudioStart > 0 {
			add(p.AudioStart, client.Event{EventID: id("play", p.AudioStart), Type: "play", Muted: p.Muted})
		}
		if fails && p.End > audio {
			t := max(audio, p.Join) + 5000
			if t < p.End {
				p.ErrorAt = t
				add(t, client.Event{EventID: id("error", t), Type: "error", ErrorCode: p.FailsWithErrorCode})
			}
		}
		last := p.Join
		for t := p.Join + hbMS; t <= p.End; t += hbMS {
			played := int64(0)
			if p.AudioStart > 0 {
				played = max(0, t-max(t-hbMS, p.AudioStart))
			}
			p.Heartbeats = append(p.Heartbeats, Beat{T: t, Played: played})
			add(t, client.Event{EventID: id("hb", t), Type: "heartbeat", PlayedMS: client.Int(played), Muted: p.Muted && played > 0})
			last = t
		}
		if p.Leaves {
			p.End = max(p.End, last)
			add(p.End, client.Event{EventID: id("leave", p.End), Type: "leave"})
		} else {
			p.End = last
		}
		st.Plans = append(st.Plans, p)
	}
	// The platform's counter, every 30 s (or DisplayedEvery): everyone who ever joined, or who
	// is connected then.
	slices.SortStableFunc(evs, func(a, b timed) int { return cmp.Compare(a.t, b.t) })
	var connectedAt func(t int64) int
	switch sc.DisplayedSeries {
	case "", DisplayedJoined:
	case DisplayedConnected:
		connectedAt = connectedCounter(st.Plans)
	default:
		panic(fmt.Sprintf("sim: unknown DisplayedSeries %q (want %q or %q)", sc.DisplayedSeries, DisplayedJoined, DisplayedConnected))
	}
	every := int64(30_000)
	if sc.DisplayedEvery > 0 {
		every = max(1, sc.DisplayedEvery.Milliseconds())
	}
	joined := 0
	next := start
	var out []timed
	for _, e := range evs {
		for next <= e.t {
			counted := joined
			if connectedAt != nil {
				counted = connectedAt(next)
			}
			shown := int64(float64(counted) * sc.DisplayedFactor)
			st.Displayed = append(st.Displayed, Beat{T: next, Played: shown})
			out = append(out, timed{next, client.Event{EventID: fmt.Sprintf("displayed-%d", next), Type: "displayed",
				StreamID: sc.StreamID, TS: next, DisplayedCount: client.Int(shown)}})
			next += every
		}
		if e.e.Type == "join" {
			joined++
		}
		out = append(out, e)
	}
	// Clients batch every heartbeat interval: group by send time (event time rounded up to the
	// interval, per listener shard so batches stay small).
	const shards = 16
	batches := map[[2]int64][]client.Event{}
	var keys [][2]int64
	for _, e := range out {
		shard := int64(len(e.e.ListenerID)+int(e.t)) % shards
		k := [2]int64{(e.t/hbMS + 1) * hbMS, shard}
		if _, ok := batches[k]; !ok {
			keys = append(keys, k)
		}
		batches[k] = append(batches[k], e.e)
	}
	slices.SortFunc(keys, func(a, b [2]int64) int {
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return cmp.Compare(a[1], b[1])
	})
	type sent struct {
		at int64
		b  []client.Event
	}
	var out2 []sent
	for _, k := range keys {
		b := batches[k]
		at := k[0]
		if sc.LateRate > 0 && r.Float64() < sc.LateRate {
			at += r.Int64N(sc.LateBy.Milliseconds() + 1)
		}
		out2 = append(out2, sent{at, b})
		st.Events += len(b)
		if r.Float64() < sc.DuplicateRate {
			again := at // a retry: the same events again
			if sc.DuplicateBy > 0 {
				again += r.Int64N(sc.DuplicateBy.Milliseconds() + 1)
			}
			out2 = append(out2, sent{again, b})
		}
	}
	slices.SortStableFunc(out2, func(a, b sent) int { return cmp.Compare(a.at, b.at) })
	for _, x := range out2 {
		st.Batches = append(st.Batches, x.b)
		st.SendAt = append(st.SendAt, x.at)
	}
	return st
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
	last := max(p.Join, p.AudioStart, p.ErrorAt)
	for _, b := range p.Heartbeats {
		last = max(last, b.T)
	}
	return last + sessionTimeoutMS
}
