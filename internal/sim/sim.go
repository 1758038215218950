// Package sim generates a simulated live stream — listeners who join, wait, hear or fail to,
// mute, leave or vanish, retry batches, and a platform that displays its own counter — and
// computes the exact answers for it from the listeners' plans (the oracle), independently of
// the aggregator's session code. `earshot simulate` sends it through a collector; the
// end-to-end tests compare what lands in ClickHouse with the oracle.
//
// A stream is generated one send interval at a time (Generator), so the night at full size —
// a million listeners, a hundred million events — streams in the memory of its plans; Generate
// collects the same batches for the small streams tests hold whole.
package sim

import (
	"iter"
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
	// StayMin and StayMax bound how long a listener stays: whole minutes, uniform in
	// [StayMin, StayMax) (both 0: [2, 62) minutes; scenario files validate them). A stay past the
	// end of the simulation ends with it.
	StayMin, StayMax time.Duration
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

// Plan is one listener's behaviour (all times unix ms). Its heartbeats are not stored — a
// million listeners' would take gigabytes — but derived (Beats).
type Plan struct {
	ID                 string
	Join               int64
	AudioStart         int64 // 0: never hears
	End                int64 // leave time, or last heartbeat when vanishing
	Leaves, Muted      bool
	FailsWithErrorCode string
	ErrorAt            int64 // 0: no error event
	// Every is the heartbeat interval: a beat at Join + k·Every for k ≥ 1 up to End.
	Every int64
}

// Beat is one heartbeat: at T, Played ms of audio (right-aligned: [T−Played, T)).
type Beat struct {
	T      int64
	Played int64
}

// Beats are p's heartbeats in time order.
func (p *Plan) Beats() iter.Seq[Beat] {
	return func(yield func(Beat) bool) {
		for t := p.Join + p.Every; t <= p.End; t += p.Every {
			if !yield(p.beat(t)) {
				return
			}
		}
	}
}

// beat is the heartbeat at t: the audio rendered since the previous one, from the audio's
// start on.
func (p *Plan) beat(t int64) Beat {
	if p.AudioStart == 0 {
		return Beat{T: t}
	}
	return Beat{T: t, Played: max(0, t-max(t-p.Every, p.AudioStart))}
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
	// Events counts the distinct events (a retried batch's copies are not counted again).
	Events int
	// Displayed is the platform counter as sent: T and the count (in Played).
	Displayed []Beat
}

// Generate builds the whole stream deterministically from the scenario's seed: the batches
// a Generator streams, collected.
func Generate(sc Scenario) *Stream {
	g := NewGenerator(sc)
	st := g.Skeleton()
	for b := range g.All() {
		st.Batches = append(st.Batches, b.Events)
		st.SendAt = append(st.SendAt, b.At)
	}
	st.Events = g.Events()
	return st
}
