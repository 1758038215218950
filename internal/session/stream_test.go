package session

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// Clocks per stream: a trusted import dated ahead of a live stream moves only its own clock; a
// record dated 30 days after its receipt (which no collector writes: a typo, a hostile
// producer) is dropped as corrupt. The live stream in the same partition is counted and closed
// by the collectors' ticks as if neither were there.
func TestTrustedEventAheadMovesOnlyItsStream(t *testing.T) {
	live := specT0 + 7*24*3600*1000
	var recs []event.Record
	for _, e := range ev1("a", "join@0", "hb@10/10000", "hb@20/10000", "leave@25") {
		r := e.record("live", 0, 0)
		r.EventTime = live + e.TS
		recs = append(recs, r)
	}
	solo := at(recs, func(*event.Record) int64 { return 0 })
	until := live + DefaultConfig().Horizon.Milliseconds() + 5*60_000
	want, _ := deliver(t, DefaultConfig(), solo, nil, until, nil, 0)

	ahead := specEvent{ID: "x", Type: "join", Listener: "z"}.record("import", 0, event.FlagTrustedTime)
	ahead.EventTime = live + 30*24*3600*1000
	mixed := append(at([]event.Record{ahead}, func(*event.Record) int64 { return -30 * 24 * 3600 * 1000 }), solo...)
	got, p := deliver(t, DefaultConfig(), mixed, nil, until, nil, 0)
	for k := range got.minutes {
		if len(k) > 6 && k[:6] == "import" {
			delete(got.minutes, k)
		}
	}
	for k := range got.listeners {
		if len(k) > 6 && k[:6] == "import" {
			delete(got.listeners, k)
		}
	}
	if diff := want.diff(got); diff != "" {
		t.Fatalf("the live stream changed beside an import dated 30 days ahead:\n%s", diff)
	}
	if p.Dropped["too_late"] != 0 {
		t.Fatalf("dropped %v", p.Dropped)
	}
	if n := len(want.minutes); n == 0 {
		t.Fatal("no live minutes")
	}
	for k, m := range want.minutes {
		if !m.Final {
			t.Fatalf("live minute %s not final: ticks did not move the live stream's clock", k)
		}
	}
}

// The correction horizon: an event that begins exactly horizon before its stream's clock is
// applied, one that begins a millisecond earlier is too late — counted, not applied.
func TestTooLateBoundary(t *testing.T) {
	cfg := DefaultConfig()
	h := cfg.Horizon.Milliseconds()
	base := ev1("a", "join@0", fmt.Sprintf("hb@%d/1000", (h+60_000)/1000))
	p := New(cfg, 0)
	r := newRows()
	for i, e := range base {
		rec := e.record("s", specT0+e.TS, event.FlagTrustedTime)
		p.Add(&rec, int64(i))
	}
	clock := specT0 + h + 60_000
	onTime := specEvent{ID: "b", Type: "join", Listener: "b", TS: clock - h - specT0}.record("s", clock, event.FlagTrustedTime)
	late := specEvent{ID: "c", Type: "join", Listener: "c", TS: clock - h - 1 - specT0}.record("s", clock, event.FlagTrustedTime)
	p.Add(&onTime, 10)
	p.Add(&late, 11)
	r.take(t, p)
	if p.Dropped["too_late"] != 1 {
		t.Fatalf("dropped %v, want one too_late", p.Dropped)
	}
	var tooLate uint64
	for _, d := range r.delivery {
		tooLate += d.TooLate
	}
	if tooLate != 1 {
		t.Fatalf("delivery rows count %d too late, want 1", tooLate)
	}
	m := r.minutes["s/"+fmt.Sprint(window.MinuteOf(clock-h))]
	if m.Joins != 1 {
		t.Fatalf("joins in the minute at the horizon: %d, want 1 (the event on time)", m.Joins)
	}
}

// Provisional, then final: a live stream's minute is written when its clock passes the minute's
// end + lookback, a late event rewrites it with a higher version, and it is final once the
// horizon has passed — never changed after.
func TestProvisionalThenFinal(t *testing.T) {
	cfg := DefaultConfig()
	live := specT0 + 24*3600*1000
	p := New(cfg, 0)
	off := int64(0)
	add := func(r event.Record) {
		p.Add(&r, off)
		off++
	}
	tick := func(at int64) { add(event.Record{Type: event.TypeTick, EventTime: at, ReceivedAt: at}) }
	rec := func(id, l string, typ event.Type, at, received int64) event.Record {
		r := specEvent{ID: id, Type: typ.String(), Listener: l}.record("live", received, 0)
		r.EventTime = at
		return r
	}
	tick(live)
	add(rec("a1", "a", event.TypeJoin, live+1000, live+1000))
	tick(live + 60_000 + cfg.Lookback.Milliseconds() - 1000)
	if o := p.TakeOutput(); len(o.Minutes) != 0 {
		t.Fatalf("minute 0 written before its lookback passed: %d rows", len(o.Minutes))
	}
	tick(live + 60_000 + cfg.Lookback.Milliseconds())
	o := p.TakeOutput()
	if len(o.Minutes) != 1 || o.Minutes[0].Final || o.Minutes[0].Joins != 1 {
		t.Fatalf("provisional minute 0: %d rows %+v", len(o.Minutes), o.Minutes)
	}
	// A join of minute 0 arriving two minutes late: a correction.
	add(rec("b1", "b", event.TypeJoin, live+2000, live+180_000))
	o = p.TakeOutput()
	var m0 *window.Minute
	for _, m := range o.Minutes {
		if m.Start == live {
			m0 = m
		}
	}
	if m0 == nil || m0.Final || m0.Joins != 2 || m0.Connected.Len() != 2 {
		t.Fatalf("minute 0 after the late join: %+v", m0)
	}
	tick(live + 60_000 + cfg.Horizon.Milliseconds())
	o = p.TakeOutput()
	m0 = nil
	for _, m := range o.Minutes {
		if m.Start == live {
			m0 = m
		}
	}
	if m0 == nil || !m0.Final || m0.Joins != 2 {
		t.Fatalf("minute 0 once the horizon passed: %+v", m0)
	}
	add(rec("c1", "c", event.TypeJoin, live+3000, live+60_000+cfg.Horizon.Milliseconds()))
	for _, m := range p.TakeOutput().Minutes {
		if m.Start == live {
			t.Fatal("a final minute was written again")
		}
	}
	if p.Dropped["too_late"] != 1 {
		t.Fatalf("dropped %v: the join after the horizon is too late", p.Dropped)
	}
}

// TestMintedStreamIdsAreForgotten: 10 000 live stream ids with one listener each (what a client
// with an unscoped token could mint) cost little while they are open and nothing once they
// have been silent for liveForgetAfter; an event for a forgotten id starts it again without
// touching what was final.
func TestMintedStreamIdsAreForgotten(t *testing.T) {
	p := New(DefaultConfig(), 0)
	p.now = func() time.Time { return time.UnixMilli(specT0 + 24*3600*1000) }
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	const n = 10_000
	for i := range n {
		at := specT0 + int64(i)
		r := event.Record{Type: event.TypeJoin, Listener: uint64(i + 1), Fingerprint: 1, EventTime: at, ReceivedAt: at,
			StreamID: fmt.Appendf(nil, "minted-%d", i)}
		p.Add(&r, int64(i))
	}
	p.Recycle(p.TakeOutput())
	open := heap()
	perStream := float64(open-before) / n
	// A listener page of 160 KB per stream was the finding; a few KB is what an open stream
	// with one listener needs (table page, index, minute, clocks).
	if perStream > 16<<10 {
		t.Fatalf("%.0f bytes per open one-listener stream", perStream)
	}
	off := n
	for at := specT0 + n; at <= specT0+n+p.liveForgetAfter()+5*60_000; at += 1000 {
		r := tickAt(at)
		p.Add(&r, int64(off))
		off++
	}
	p.Recycle(p.TakeOutput())
	if len(p.streams) != 0 {
		t.Fatalf("%d streams still held after %s of silence", len(p.streams), time.Duration(p.liveForgetAfter())*time.Millisecond)
	}
	after := heap()
	t.Logf("%.0f bytes per open stream; %d KB held before, %d KB open, %d KB after forgetting", perStream, before>>10, open>>10, after>>10)
	if after > before+(open-before)/10 {
		t.Fatalf("heap %d KB after forgetting, %d KB before the streams", after>>10, before>>10)
	}
	// The id comes back: a new stream from its new events, nothing written before them.
	at := p.ingest
	r := event.Record{Type: event.TypeJoin, Listener: 1, Fingerprint: 2, EventTime: at, ReceivedAt: at, StreamID: []byte("minted-0")}
	p.Add(&r, int64(off))
	for _, m := range p.TakeOutput().Minutes {
		if m.Start < window.MinuteOf(at) {
			t.Fatalf("the returning stream wrote minute %d, before its event at %d", m.Start, at)
		}
	}
	noBugs(t, p)
}
