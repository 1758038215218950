package session

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// The differential harness: the same events, delivered in many ways — orders, delays up to 20
// minutes, copies up to 10 minutes later, parallel requests, pauses, a broker outage — must end
// in the same rows as in order, to the last register of every sketch. Streams are the
// simulator's plus generated edge cases; live streams are driven by collector ticks, trusted
// replays by their own events.

// arrival is one record with the collector time it is received (and written to Kafka).
type arrival struct {
	at  int64
	rec event.Record
}

// plan is one way of delivering: arrival times for every event (copies included), and gaps in
// ingest during which no record and no tick reaches Kafka (a broker outage).
type plan struct {
	name    string
	arrive  func(r *rand.Rand, evs []event.Record) []arrival
	outages [][2]int64
	restore int // restore the partition from its checkpoint every this many records
}

func at(evs []event.Record, delay func(e *event.Record) int64) []arrival {
	out := make([]arrival, 0, len(evs))
	for i := range evs {
		out = append(out, arrival{evs[i].EventTime + delay(&evs[i]), evs[i]})
	}
	return out
}

// plans returns the deliveries for events in [from, to) (unix ms).
func plans(from, to int64) []plan {
	mid := from + (to-from)/2
	return []plan{
		{name: "in order", arrive: func(_ *rand.Rand, evs []event.Record) []arrival {
			return at(evs, func(*event.Record) int64 { return 0 })
		}},
		{name: "random delay up to 2 min", arrive: func(r *rand.Rand, evs []event.Record) []arrival {
			return at(evs, func(*event.Record) int64 { return r.Int64N(120_000) })
		}},
		{name: "random delay up to 20 min", arrive: func(r *rand.Rand, evs []event.Record) []arrival {
			return at(evs, func(*event.Record) int64 { return r.Int64N(20 * 60_000) })
		}},
		{name: "20% copies up to 10 min later", arrive: func(r *rand.Rand, evs []event.Record) []arrival {
			out := at(evs, func(*event.Record) int64 { return r.Int64N(3000) })
			for i := range evs {
				if r.IntN(5) == 0 {
					out = append(out, arrival{evs[i].EventTime + r.Int64N(10*60_000), evs[i]})
				}
			}
			return out
		}},
		{name: "parallel requests", arrive: func(r *rand.Rand, evs []event.Record) []arrival {
			// Players post every 10 s; up to four requests in flight finish in any order.
			return at(evs, func(e *event.Record) int64 {
				sent := (e.EventTime/10_000 + 1) * 10_000
				return sent - e.EventTime + r.Int64N(4000)
			})
		}},
		{name: "a 5-min pause in sending", arrive: func(r *rand.Rand, evs []event.Record) []arrival {
			return at(evs, func(e *event.Record) int64 {
				if e.EventTime >= mid && e.EventTime < mid+5*60_000 {
					return mid + 5*60_000 - e.EventTime + r.Int64N(1000)
				}
				return 0
			})
		}},
		{name: "a 3-min broker outage at the peak", outages: [][2]int64{{mid, mid + 3*60_000}},
			arrive: func(r *rand.Rand, evs []event.Record) []arrival {
				return at(evs, func(*event.Record) int64 { return r.Int64N(2000) })
			}},
		{name: "half the listeners 15 min behind", arrive: func(r *rand.Rand, evs []event.Record) []arrival {
			return at(evs, func(e *event.Record) int64 { return int64(e.Listener%2) * 15 * 60_000 })
		}},
		{name: "shuffled within 25 min", arrive: func(r *rand.Rand, evs []event.Record) []arrival {
			return at(evs, func(*event.Record) int64 { return r.Int64N(25 * 60_000) })
		}},
		{name: "random delay up to 2 min, restored from checkpoints", restore: 1789, arrive: func(r *rand.Rand, evs []event.Record) []arrival {
			return at(evs, func(*event.Record) int64 { return r.Int64N(120_000) })
		}},
	}
}

// deliver runs one plan: records in arrival order, with a tick every second of ingest time
// (none during outages) from the first arrival until `until`, then end records for `closes`.
func deliver(t testing.TB, cfg Config, as []arrival, outages [][2]int64, until int64, closes []string, verifyEvery int) (*rows, *Partition) {
	return deliverRestoring(t, cfg, as, outages, until, closes, verifyEvery, 0)
}

// deliverRestoring is deliver, with the partition checkpointed and restored from the checkpoint
// every restoreEvery records (0: never), as a new owner would after a crash or a rebalance.
func deliverRestoring(t testing.TB, cfg Config, as []arrival, outages [][2]int64, until int64, closes []string, verifyEvery, restoreEvery int) (*rows, *Partition) {
	t.Helper()
	down := func(x int64) bool {
		for _, o := range outages {
			if x >= o[0] && x < o[1] {
				return true
			}
		}
		return false
	}
	// During an outage the collectors answer 503; players keep their events and retry after
	// it, within 20 s.
	for i := range as {
		for _, o := range outages {
			if as[i].at >= o[0] && as[i].at < o[1] {
				as[i].at = o[1] + int64(i%20)*1000
			}
		}
	}
	slices.SortStableFunc(as, func(a, b arrival) int { return cmp.Compare(a.at, b.at) })
	p := New(cfg, 0)
	r := newRows()
	var off int64
	add := func(rec *event.Record) {
		p.Add(rec, off)
		off++
		if off%97 == 0 {
			r.take(t, p)
		}
		if restoreEvery > 0 && off%int64(restoreEvery) == 0 {
			r.take(t, p)
			data, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if p, err = Restore(cfg, data); err != nil {
				t.Fatal(err)
			}
		}
		if verifyEvery > 0 && off%int64(verifyEvery) == 0 {
			if err := p.verify(); err != nil {
				t.Fatalf("offset %d: %v", off, err)
			}
		}
	}
	tick := as[0].at / 1000 * 1000
	for i := range as {
		for ; tick <= as[i].at; tick += 1000 {
			if !down(tick) {
				add(&event.Record{Type: event.TypeTick, EventTime: tick, ReceivedAt: tick})
			}
		}
		rec := as[i].rec
		if down(as[i].at) {
			t.Fatalf("plan delivers a record during an outage at %d", as[i].at)
		}
		rec.ReceivedAt = as[i].at
		add(&rec)
	}
	for ; tick <= until; tick += 1000 {
		if !down(tick) {
			add(&event.Record{Type: event.TypeTick, EventTime: tick, ReceivedAt: tick})
		}
	}
	for _, s := range closes {
		add(&event.Record{Type: event.TypeEnd, Flags: event.FlagTrustedTime, StreamID: []byte(s), EventTime: tick, ReceivedAt: tick})
	}
	r.take(t, p)
	if err := p.verify(); err != nil {
		t.Fatal(err)
	}
	return r, p
}

// simRecords converts a simulated stream's events as a collector would (every copy it sends
// included), shifted to start at t0, with flags.
func simRecords(st *sim.Stream, t0 int64, flags uint8) []event.Record {
	shift := t0 - st.Scenario.Start.UnixMilli()
	var out []event.Record
	for _, b := range st.Batches {
		for i := range b {
			r := sim.Record(&b[i], flags)
			r.EventTime += shift
			authenticate(&r)
			out = append(out, r)
		}
	}
	return out
}

// edgeCases generates listeners that exercise the rules' corners, in stream, from t0 for dur.
func edgeCases(r *rand.Rand, stream string, t0, dur int64, n int, flags uint8) []event.Record {
	var evs []specEvent
	id := 0
	next := func(l string, typ string, ts int64) specEvent {
		id++
		return specEvent{ID: fmt.Sprintf("e%d", id), Type: typ, Listener: l, TS: ts}
	}
	hb := func(l string, ts, played int64, muted bool) specEvent {
		e := next(l, "heartbeat", ts)
		e.Played, e.Muted = played, muted
		return e
	}
	for k := range n {
		l := fmt.Sprintf("%s-edge-%d", stream, k)
		start := r.Int64N(dur - 10*60_000)
		switch k % 10 {
		case 0: // same-millisecond leave and rejoin, then a zero-length session
			j := start
			evs = append(evs, next(l, "join", j), next(l, "play", j+700))
			for x := int64(1); x <= 6; x++ {
				evs = append(evs, hb(l, j+x*10_000, 10_000-700*b64(x == 1), false))
			}
			evs = append(evs, next(l, "leave", j+65_000), next(l, "join", j+65_000), next(l, "play", j+65_500))
			for x := int64(1); x <= 4; x++ {
				evs = append(evs, hb(l, j+65_000+x*10_000, 10_000-500*b64(x == 1), false))
			}
			evs = append(evs, next(l, "leave", j+110_000), next(l, "join", j+200_000), next(l, "leave", j+200_000))
		case 1: // catch-up heartbeat after the app was backgrounded: 2 min of audio at once
			evs = append(evs, next(l, "join", start), next(l, "play", start+1000), hb(l, start+10_000, 9000, false),
				hb(l, start+130_000, 120_000, false), hb(l, start+140_000, 10_000, false))
		case 2: // a first heartbeat with a long played_ms and no join
			evs = append(evs, hb(l, start+45_000, 45_000, false), hb(l, start+55_000, 10_000, false))
		case 3: // two devices on one account: overlapping audio
			for x := int64(1); x <= 12; x++ {
				evs = append(evs, hb(l, start+x*10_000, 10_000, false), hb(l, start+x*10_000+3_000, 10_000, false))
			}
		case 4: // a heartbeat right after a leave, and after a timeout
			evs = append(evs, next(l, "join", start), next(l, "play", start+500), hb(l, start+10_000, 9500, false),
				next(l, "leave", start+12_000), hb(l, start+13_000, 1000, false), hb(l, start+200_000, 10_000, false))
		case 5: // errors without a session, an error inside one, a start failure
			evs = append(evs, next(l, "error", start), next(l, "join", start+5000))
			e := next(l, "error", start+20_000)
			e.Code = "overload"
			evs = append(evs, e, hb(l, start+40_000, 0, false), next(l, "leave", start+50_000))
		case 6: // muted, stalled, and a late start (play after 30 s)
			evs = append(evs, next(l, "join", start), next(l, "play", start+31_000))
			for x := int64(4); x <= 9; x++ {
				e := hb(l, start+x*10_000, 6000, x%2 == 0)
				e.Stalled = 4000
				evs = append(evs, e)
			}
		case 7: // gaps around the timeout: 59.999 s, then exactly 60 s, then more
			evs = append(evs, next(l, "join", start), hb(l, start+59_999, 0, false), hb(l, start+119_999, 0, false),
				hb(l, start+300_000, 5000, false))
		case 8: // a long listener: qualifies, AQH
			evs = append(evs, next(l, "join", start), next(l, "play", start+1200))
			for x := int64(1); x <= 48; x++ {
				evs = append(evs, hb(l, start+x*10_000, 10_000-1200*b64(x == 1), false))
			}
		case 9: // many events at one instant
			evs = append(evs, next(l, "join", start), next(l, "play", start), hb(l, start, 0, false), next(l, "leave", start+30_000),
				hb(l, start+30_000, 30_000, false), next(l, "join", start+30_000))
		}
	}
	out := make([]event.Record, 0, len(evs))
	for _, e := range evs {
		if e.Type == "error" && e.Code == "" {
			e.Code = "network"
		}
		rec := e.record(stream, 0, flags)
		rec.EventTime = t0 + e.TS
		authenticate(&rec)
		out = append(out, rec)
	}
	return out
}

// authenticate marks about one event in five as carrying a valid listener ticket, by its
// fingerprint, so that copies agree: which minutes a listener is authenticated in must not
// depend on the delivery either.
func authenticate(r *event.Record) {
	if r.Type != event.TypeDisplayed && r.Fingerprint%5 == 0 {
		r.Flags |= event.FlagAuthenticated
	}
}

func TestDeliveriesGiveTheSameRows(t *testing.T) {
	t0 := specT0 + 7*24*3600*1000 // "now" for the live stream
	sc := sim.DemoScenario(150)
	sc.Duration, sc.AudioDelay, sc.DuplicateRate = 40*time.Minute, 8*time.Minute, 0.05
	st := sim.Generate(sc)
	r := rand.New(rand.NewPCG(5, 5))
	live := append(simRecords(st, t0, 0), edgeCases(r, sc.StreamID, t0, 40*60_000, 60, 0)...)
	// A replay of last week's stream beside the live one: its own clock.
	replay := edgeCases(r, "replay-last-week", t0-7*24*3600*1000, 30*60_000, 40, event.FlagTrustedTime)
	end := t0 + 40*60_000
	until := end + DefaultConfig().Horizon.Milliseconds() + 5*60_000

	var want *rows
	for _, pl := range plans(t0, end) {
		t.Run(pl.name, func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(9, uint64(len(pl.name))))
			as := pl.arrive(rnd, live)
			// The replay is sent at full speed during the live stream: event times a week old,
			// arriving in the same minutes (shifted like the live events of the plan).
			for _, a := range pl.arrive(rnd, replay) {
				a.at += 7 * 24 * 3600 * 1000
				as = append(as, a)
			}
			got, p := deliverRestoring(t, DefaultConfig(), as, pl.outages, until, []string{"replay-last-week"}, 2000, pl.restore)
			if n := p.Dropped["too_late"]; n != 0 {
				t.Fatalf("%d events too late", n)
			}
			for k, m := range got.minutes {
				if !m.Final {
					t.Fatalf("minute %s not final at the end", k)
				}
			}
			var late, dup uint64
			for _, d := range got.delivery {
				late += d.Late
				dup += d.Duplicates
			}
			t.Logf("%d records: %d minute rows, %d listener rows; %d applied late, %d copies", len(as), len(got.minutes), len(got.listeners), late, dup)
			if want == nil {
				want = got
				return
			}
			if diff := want.diff(got); diff != "" {
				t.Fatalf("rows differ from in order:\n%s", diff)
			}
		})
	}
}

// TestSketchesRegisterForRegister: a minute with more listeners than a set holds exactly, some
// of whom leave late enough to be taken out again after the set became a sketch, must end with
// the same sketch bytes as in order.
func TestSketchesRegisterForRegister(t *testing.T) {
	t0 := specT0 + 24*3600*1000
	var recs []event.Record
	r := rand.New(rand.NewPCG(1, 1))
	for l := range 7500 {
		id := fmt.Sprintf("l%d", l)
		j := int64(r.IntN(50_000))
		evs := []specEvent{{ID: id + "j", Type: "join", Listener: id, TS: j}, {ID: id + "h", Type: "heartbeat", Listener: id, TS: j + 10_000, Played: 10_000}}
		if l%3 == 0 {
			evs = append(evs, specEvent{ID: id + "l", Type: "leave", Listener: id, TS: j + 12_000})
		}
		for _, e := range evs {
			rec := e.record("big", 0, 0)
			rec.EventTime = t0 + e.TS
			recs = append(recs, rec)
		}
	}
	until := t0 + DefaultConfig().Horizon.Milliseconds() + 5*60_000
	inOrder := at(recs, func(*event.Record) int64 { return 0 })
	want, _ := deliver(t, DefaultConfig(), inOrder, nil, until, nil, 0)
	// Leaves arrive 3 minutes late: minute 1, where those listeners were provisionally
	// connected, has more than 4 096 of them and must drop a third again.
	late := at(recs, func(e *event.Record) int64 { return int64(b64(e.Type == event.TypeLeave)) * 3 * 60_000 })
	got, p := deliver(t, DefaultConfig(), late, nil, until, nil, 0)
	if diff := want.diff(got); diff != "" {
		t.Fatalf("rows differ:\n%s", diff)
	}
	m1 := want.minutes["big/"+fmt.Sprint(window.MinuteOf(t0)+window.MinuteMS)]
	if m1.Connected.Exact {
		t.Fatalf("minute 1 holds %v listeners exactly: the test needs a sketch", m1.Connected.Value)
	}
	if len(p.Dropped) != 0 {
		t.Fatalf("dropped %v", p.Dropped)
	}
}
