package session

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/earshot/earshot/pkg/event"
)

// randomEvents makes a small stream of a few listeners whose events are drawn at random: any
// type, any order of times, played_ms from 0 to the longest heartbeat, instants shared between
// events — corners no simulator plans.
func randomEvents(r *rand.Rand, n int) []specEvent {
	types := []string{"join", "leave", "heartbeat", "heartbeat", "heartbeat", "play", "error"}
	var evs []specEvent
	for i := range n {
		l := fmt.Sprintf("l%d", r.IntN(3))
		e := specEvent{ID: fmt.Sprintf("e%d", i), Type: types[r.IntN(len(types))], Listener: l}
		// Times on a coarse grid so that instants coincide often, over 15 minutes: with 10-minute
		// heartbeats, no delivery can put an event beyond the 30-min horizon.
		switch r.IntN(4) {
		case 0:
			e.TS = r.Int64N(15*60) * 1000
		case 1:
			e.TS = r.Int64N(15*6) * 10_000
		default:
			e.TS = r.Int64N(15 * 60 * 1000)
		}
		e.TS += 10 * 60_000
		if e.Type == "heartbeat" {
			switch r.IntN(5) {
			case 0:
				e.Played = 0
			case 1:
				e.Played = r.Int64N(event.MaxIntervalMS + 1)
			default:
				e.Played = r.Int64N(20_000)
			}
			e.Muted = r.IntN(6) == 0
			if r.IntN(4) == 0 {
				e.Stalled = r.Int64N(10_000)
			}
		}
		if e.Type == "error" {
			e.Code = []string{"network", "decode"}[r.IntN(2)]
		}
		evs = append(evs, e)
		if r.IntN(8) == 0 { // a copy
			evs = append(evs, e)
		}
	}
	if r.IntN(3) == 0 {
		evs = append(evs, specEvent{ID: "disp", Type: "displayed", TS: 11 * 60_000, Count: 1000})
	}
	return evs
}

// TestRandomStreamsAnyDelivery: hundreds of random small streams, each in every delivery of
// the harness, must give the same rows, with the hot path and re-derivation checked against a
// full replay after every record.
func TestRandomStreamsAnyDelivery(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 50
	}
	for seed := range n {
		r := rand.New(rand.NewPCG(uint64(seed), 99))
		evs := randomEvents(r, 5+r.IntN(60))
		recs := trusted("s", evs)
		var want *rows
		for _, d := range deliveries(recs, uint64(seed)) {
			p := New(DefaultConfig(), 0)
			got := feed(t, p, d.recs, "s")
			if len(p.Dropped) > 0 {
				t.Fatalf("seed %d, delivered %s: dropped %v", seed, d.name, p.Dropped)
			}
			if want == nil {
				want = got
			} else if diff := want.diff(got); diff != "" {
				t.Fatalf("seed %d, delivered %s: rows differ from in order:\n%s\nevents: %+v", seed, d.name, diff, evs)
			}
		}
	}
}

// TestRandomLongStreamsFold: random live streams of an hour under a 12-minute horizon, so
// minutes become final and listeners' logs fold while events still arrive late (up to 4
// minutes), twice, and the partition is restored from checkpoints — the same rows as in order.
func TestRandomLongStreamsFold(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Horizon = 12 * time.Minute
	n := 60
	if testing.Short() {
		n = 10
	}
	for seed := range n {
		r := rand.New(rand.NewPCG(uint64(seed), 123))
		t0 := specT0 + 24*3600*1000
		var recs []event.Record
		types := []string{"join", "leave", "heartbeat", "heartbeat", "heartbeat", "heartbeat", "play", "error"}
		for i := range 150 + r.IntN(300) {
			e := specEvent{ID: fmt.Sprintf("e%d", i), Type: types[r.IntN(len(types))], Listener: fmt.Sprintf("l%d", r.IntN(6)),
				TS: r.Int64N(60*60) * 1000}
			if e.Type == "heartbeat" {
				e.Played, e.Muted = r.Int64N(60_001), r.IntN(8) == 0
			}
			if e.Type == "error" {
				e.Code = "network"
			}
			rec := e.record("live", 0, 0)
			rec.EventTime = t0 + e.TS
			recs = append(recs, rec)
		}
		until := t0 + 60*60_000 + cfg.Horizon.Milliseconds() + 5*60_000
		want, _ := deliver(t, cfg, at(recs, func(*event.Record) int64 { return 0 }), nil, until, nil, 0)
		for _, pl := range []struct {
			name    string
			delay   func(*event.Record) int64
			copies  bool
			restore int
		}{
			{"up to 4 min late", func(*event.Record) int64 { return r.Int64N(4 * 60_000) }, false, 0},
			{"copies up to 4 min later", func(*event.Record) int64 { return r.Int64N(2000) }, true, 0},
			{"late, restored from checkpoints", func(*event.Record) int64 { return r.Int64N(4 * 60_000) }, false, 97},
		} {
			as := at(recs, pl.delay)
			if pl.copies {
				for i := range recs {
					if r.IntN(3) == 0 {
						as = append(as, arrival{recs[i].EventTime + r.Int64N(4*60_000), recs[i]})
					}
				}
			}
			got, p := deliverRestoring(t, cfg, as, nil, until, nil, 500, pl.restore)
			if p.Dropped["too_late"] != 0 {
				t.Fatalf("seed %d, %s: %v", seed, pl.name, p.Dropped)
			}
			if diff := want.diff(got); diff != "" {
				t.Fatalf("seed %d, %s: rows differ from in order:\n%s", seed, pl.name, diff)
			}
		}
	}
}
