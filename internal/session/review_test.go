package session

// Adversarial review of the aggregator core: each test here fails on the code it was written
// against and names the bug it shows. See the review report for root causes and fixes.

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// noPanic runs f and fails the test (instead of killing the test binary) if it panics: a panic
// in a partition worker is a crash loop, since the same record comes back after the restart.
func noPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if x := recover(); x != nil {
			t.Fatalf("panic (a crash loop in production): %v\n    at %s", x, panicSite(debug.Stack()))
		}
	}()
	f()
}

// panicSite is the first frame of this package's production code in a stack.
func panicSite(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i := 1; i < len(lines); i++ {
		if l := strings.TrimSpace(lines[i]); strings.Contains(l, "internal/session/") && !strings.Contains(l, "_test.go") {
			return strings.TrimSpace(lines[i-1]) + " " + l
		}
	}
	return "?"
}

// reviewFeed adds recs in order with offsets after p's, collecting rows into r (no verify: for
// long inputs).
func reviewFeed(t *testing.T, p *Partition, r *rows, recs ...event.Record) {
	t.Helper()
	for i := range recs {
		p.Add(&recs[i], p.Offset+1)
	}
	r.take(t, p)
}

func tickAt(ms int64) event.Record {
	return event.Record{Type: event.TypeTick, EventTime: ms, ReceivedAt: ms}
}

func endOf(stream string, ms int64) event.Record {
	return event.Record{Type: event.TypeEnd, StreamID: []byte(stream), Flags: event.FlagTrustedTime, EventTime: ms, ReceivedAt: ms}
}

// liveRec is a live (collector-timed) record of e in stream, received at its event time + delay.
func liveRec(stream string, e specEvent, delay int64) event.Record {
	r := e.record(stream, specT0+e.TS+delay, 0)
	return r
}

// 1. A trusted replay (an import of a past stream) whose events in this partition have a quiet
// gap of more than ~34 minutes: the event after the gap moves the stream's clock (s.data) and is
// applied before advance() moves finalTo, so its minute lies beyond the listener's 64-minute bit
// ring and setBit panics.
func TestReviewTrustedReplayGapPanics(t *testing.T) {
	evs := append(ev1("a", "join@0", "hb@10/10000", "leave@20"),
		ev1("b", "join@2400", "hb@2410/10000", "leave@2420")...) // 40 min later
	p := New(DefaultConfig(), 0)
	noPanic(t, func() { feed(t, p, trusted("s", evs), "s") }) // in order
	if len(p.Dropped) != 0 {
		t.Fatalf("dropped %v", p.Dropped)
	}
}

// 2. The same for a live stream: the ingest clock jumps (no tick reached the partition for 40
// minutes, e.g. a broker outage) and the first record after it is an event, applied before its
// stream is advanced.
func TestReviewLiveClockJumpWithoutTicksPanics(t *testing.T) {
	p := New(DefaultConfig(), 0)
	r := newRows()
	var recs []event.Record
	for s := int64(0); s <= 60; s++ {
		recs = append(recs, tickAt(specT0+s*1000))
	}
	recs = append(recs, liveRec("live", specEvent{ID: "a1", Type: "join", Listener: "a", TS: 5000}, 0))
	noPanic(t, func() {
		reviewFeed(t, p, r, recs...)
		// 40 minutes without ticks; the first record after the outage is a listener's join.
		reviewFeed(t, p, r, liveRec("live", specEvent{ID: "b1", Type: "join", Listener: "b", TS: 40 * 60_000}, 0))
	})
}

// 3. One decodable record with an extreme event time, the first of its stream, panics:
// finalTo + ring overflows int64 (EventTime near MaxInt64), or the stream base wraps
// (EventTime near MinInt64). DecodeRecord accepts any int64; nothing bounds it before the clocks.
func TestReviewExtremeEventTimePanics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		typ    event.Type
		et     int64
		played uint32
	}{
		{"join at MaxInt64", event.TypeJoin, math.MaxInt64, 0},
		{"heartbeat at MinInt64", event.TypeHeartbeat, math.MinInt64, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(DefaultConfig(), 0)
			rec := event.Record{Type: tc.typ, Listener: 7, Fingerprint: 1, EventTime: tc.et, ReceivedAt: specT0,
				PlayedMS: tc.played, StreamID: []byte("poison"), Flags: event.FlagTrustedTime}
			noPanic(t, func() { p.Add(&rec, 0) })
			noBugs(t, p)
			if p.Dropped["time_out_of_range"] != 1 {
				t.Fatalf("dropped %v, want the record as time_out_of_range", p.Dropped)
			}
		})
	}
}

// 4. Horizons above a day (time.md: "hours or days for imports"; Validate allows 336 h): the
// stream's base is only 24 h before its *first-arriving* event, so an event that begins more
// than 24 h before it is dropped as time_out_of_range although it is inside the horizon. Which
// events survive depends on arrival order (here: reversed delivery drops listener a).
func TestReviewHorizonAboveADayDependsOnOrder(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Horizon = 72 * time.Hour
	cfg.ReplayIdle = 72 * time.Hour
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	evs := append(ev1("a", "join@0", "play@1", "hb@10/9000", "leave@20"),
		ev1("b", "join@108000", "play@108001", "hb@108010/9000", "leave@108020")...) // 30 h later
	noPanic(t, func() { finalWith(t, cfg, evs) })
}

// 5. Listener times are uint32 ms from a base fixed at the stream's creation: a stream that
// runs longer than ~48.7 days (a 24/7 internet radio, SPEC's "internet radio") has every later
// event dropped as time_out_of_range. Streams are never re-based.
func TestReviewStreamLongerThan49Days(t *testing.T) {
	p := New(DefaultConfig(), 0)
	r := newRows()
	recs := radio51Days(func(int64) uint8 { return 0 })
	noPanic(t, func() { reviewFeed(t, p, r, recs...) })
	if len(p.Dropped) != 0 {
		t.Fatalf("dropped %v of %d in-order events of a 51-day stream", p.Dropped, len(recs))
	}
}

// 6. A closed stream is forgotten once the ingest clock is a horizon past its close; a copy
// (a client retry) or a resumed replay arriving after that creates a fresh stream with the same
// id, whose rows replace the final rows of the original minutes (same key, higher version).
func TestReviewForgottenClosedStreamRewritesFinalRows(t *testing.T) {
	p := New(DefaultConfig(), 0)
	r := newRows()
	recs := trusted("s", ev1("a", "join@0", "play@1", "hb@10/9000", "hb@20/10000", "hb@30/10000", "leave@35"))
	reviewFeed(t, p, r, recs...)
	reviewFeed(t, p, r, endOf("s", specT0+35_000))
	want := r.minutes[fmt.Sprintf("s/%d", specT0)]
	if !want.Final || want.PlayedMS != 29_000 {
		t.Fatalf("setup: minute 0 %s", brief(want))
	}
	// Other streams keep the ingest clock moving: 40 minutes of ticks.
	for m := int64(1); m <= 40; m++ {
		reviewFeed(t, p, r, tickAt(specT0+m*60_000))
	}
	// A retry of the first heartbeat arrives now: it is too late (or a copy), nothing else.
	cp := recs[2]
	cp.ReceivedAt = specT0 + 40*60_000
	reviewFeed(t, p, r, cp)
	// The partition moves on (the recreated replay closes by replay_idle).
	for m := int64(41); m <= 80; m++ {
		reviewFeed(t, p, r, tickAt(specT0+m*60_000))
	}
	if got := r.minutes[fmt.Sprintf("s/%d", specT0)]; got.PlayedMS != want.PlayedMS || got.Connected != want.Connected {
		t.Fatalf("the final row of minute 0 was replaced:\n  was %s\n  now %s", brief(want), brief(got))
	}
	if p.Dropped["too_late"] != 1 {
		t.Fatalf("the retry of a closed stream's event was not counted too_late: dropped %v", p.Dropped)
	}
}

// 7. Delivery counts are lost when the stream's clock minute changes on a record that is itself
// late, a copy or too late: delivery.add calls moveTo(minute, nil), which discards the previous
// minute's counts unless a TakeOutput happened in between. Totals then depend on when the
// worker flushes.
func TestReviewDeliveryCountsLostWhenClockMinuteChanges(t *testing.T) {
	p := New(DefaultConfig(), 0)
	r := newRows()
	var recs []event.Record
	for s := int64(0); s <= 179; s++ {
		recs = append(recs, tickAt(specT0+s*1000))
		if s == 1 {
			recs = append(recs, liveRec("live", specEvent{ID: "a1", Type: "join", Listener: "a", TS: 1000}, 0))
		}
	}
	reviewFeed(t, p, r, recs...)
	// Two late errors (their minute was emitted), arriving at 179.5 s and 180.2 s: no tick and
	// no flush between them.
	e1 := liveRec("live", specEvent{ID: "x1", Type: "error", Listener: "x", TS: 30_000, Code: "network"}, 0)
	e1.ReceivedAt = specT0 + 179_500
	e2 := liveRec("live", specEvent{ID: "y1", Type: "error", Listener: "y", TS: 40_000, Code: "network"}, 0)
	e2.ReceivedAt = specT0 + 180_200
	p.Add(&e1, p.Offset+1)
	p.Add(&e2, p.Offset+1)
	reviewFeed(t, p, r, tickAt(specT0+181_000))
	var late uint64
	for _, d := range r.delivery {
		late += d.Late
	}
	if late != 2 {
		t.Fatalf("delivery rows count %d late events, want 2: %+v", late, r.delivery)
	}
}

// 8. Too-late events of a closed stream are counted in a delivery row whose minute is
// MinuteOf(MaxInt64/4) (the closed stream's "infinite" clock), ~year 73 million: not a minute
// of any clock, and it overflows delivery_stats.minute (DateTime).
func TestReviewTooLateAfterCloseHasABogusMinute(t *testing.T) {
	p := New(DefaultConfig(), 0)
	r := newRows()
	recs := trusted("s", ev1("a", "join@0", "leave@20"))
	reviewFeed(t, p, r, recs...)
	reviewFeed(t, p, r, endOf("s", specT0+20_000))
	late := trusted("s", ev1("b", "join@10"))[0]
	late.ReceivedAt = specT0 + 30_000
	reviewFeed(t, p, r, late)
	for k, d := range r.delivery {
		if d.TooLate > 0 && (d.Minute > window.MinuteOf(p.Ingest()) || d.Minute < specT0-24*3600*1000) {
			t.Fatalf("delivery row %s counts too_late in minute %d (%v)", k, d.Minute, time.UnixMilli(d.Minute).UTC())
		}
	}
}

// 9. A record that is then dropped still moves its stream's clock: add() sets s.data (and
// s.live for a non-trusted record) before event() validates it. A heartbeat with a bad
// played_ms 45 minutes ahead therefore finalises the stream, and every valid event delivered
// after it is too_late: the figures depend on where the dropped record arrived.
func TestReviewDroppedRecordMovesTheClock(t *testing.T) {
	valid := trusted("s", append(ev1("a", "join@0", "play@1", "hb@10/9000", "hb@20/10000", "leave@25"),
		ev1("b", "join@300", "play@301", "hb@310/9000", "leave@315")...))
	poison := specEvent{ID: "bad", Type: "heartbeat", Listener: "c", TS: 45 * 60_000, Played: 11 * 60_000}.
		record("s", specT0+45*60_000, event.FlagTrustedTime)

	run := func(recs []event.Record) (*rows, *Partition) {
		p := New(DefaultConfig(), 0)
		var got *rows
		noPanic(t, func() { got = feed(t, p, recs, "s") })
		return got, p
	}
	want, _ := run(valid)
	after, _ := run(append(append([]event.Record{}, valid...), poison))
	before, pb := run(append([]event.Record{poison}, valid...))
	if d := want.diff(after); d != "" {
		t.Fatalf("setup: a dropped record delivered last changed the rows:\n%s", d)
	}
	if d := want.diff(before); d != "" {
		t.Fatalf("a dropped record (bad_played_ms) delivered first changed the rows (dropped %v):\n%s", pb.Dropped, d)
	}
}

// 9b. The same with the stream's kind: one non-trusted record of a replay's stream id that is
// dropped (bad played_ms) turns the replay into a live stream, whose clock is the ingest clock
// — a week ahead of the replay's events, which all become too_late.
func TestReviewDroppedLiveRecordTurnsReplayLive(t *testing.T) {
	week := int64(7 * 24 * 3600 * 1000)
	replay := trusted("r", ev1("a", "join@0", "play@1", "hb@10/9000", "leave@15"))
	for i := range replay {
		replay[i].ReceivedAt = specT0 + week + int64(i)*10 // sent at full speed a week later
	}
	bad := specEvent{ID: "bad", Type: "heartbeat", Listener: "z", TS: 0, Played: 11 * 60_000}.record("r", specT0+week, 0)
	bad.EventTime = specT0 + week
	run := func(recs []event.Record) *Partition {
		p := New(DefaultConfig(), 0)
		noPanic(t, func() {
			reviewFeed(t, p, newRows(), tickAt(specT0+week))
			reviewFeed(t, p, newRows(), recs...)
		})
		return p
	}
	if p := run(append([]event.Record{bad}, replay...)); p.Dropped["too_late"] != 0 {
		t.Fatalf("a dropped non-trusted record made the replay's events too late: dropped %v", p.Dropped)
	}
}

// 10. The per-listener log's entry count (tail.n, documented as saturating) wraps: appendEv
// computes min(tl.n+1, 65535) in uint16, so entry 65 536 sets n = 0, which the hot path reads
// as "empty log": the next event is applied without the order/copy check. A copy of the last
// heartbeat is then counted twice. 65 536 entries per listener are ~7.6 days of 10-s beats
// (import horizons of days) or one shared listener id of a busy app in 30 min.
func TestReviewLogEntryCountWraps(t *testing.T) {
	evs := ev1("a", "join@0")
	const beats = 1<<16 - 1 // with the join: 65 536 entries
	for k := int64(1); k <= beats; k++ {
		evs = append(evs, specEvent{ID: fmt.Sprintf("h%d", k), Type: "heartbeat", Listener: "a", TS: k * 20, Played: 20})
	}
	recs := trusted("s", evs)
	run := func(recs []event.Record) *rows {
		p := New(DefaultConfig(), 0)
		r := newRows()
		noPanic(t, func() {
			reviewFeed(t, p, r, recs...)
			if err := p.verify(); err != nil {
				t.Errorf("invariant broken after %d entries: %.300v", len(recs), err)
			}
			reviewFeed(t, p, r, endOf("s", newestTime(recs)))
		})
		return r
	}
	want := run(recs)
	got := run(append(recs, recs[len(recs)-1])) // a retry of the last heartbeat
	if d := want.diff(got); d != "" {
		t.Fatalf("a copy of the 65 536th event was applied again:\n%s", d)
	}
}

// 11. One record with a collector time far in the future (a tick or event from a collector with
// a broken clock, or a hostile producer) moves the partition's ingest clock for good: every live
// stream is finalised and every later valid event is too_late, forever (it is checkpointed).
func TestReviewPoisonReceivedAtStopsThePartition(t *testing.T) {
	p := New(DefaultConfig(), 0)
	r := newRows()
	var recs []event.Record
	for s := int64(0); s <= 30; s++ {
		recs = append(recs, tickAt(specT0+s*1000))
	}
	recs = append(recs, liveRec("live", specEvent{ID: "a1", Type: "join", Listener: "a", TS: 10_000}, 0))
	bad := tickAt(specT0 + 31_000)
	bad.ReceivedAt = specT0 + 10*365*24*3600*1000 // ten years ahead
	recs = append(recs, bad, tickAt(specT0+32_000))
	recs = append(recs, liveRec("live", specEvent{ID: "a2", Type: "heartbeat", Listener: "a", TS: 33_000, Played: 10_000}, 0))
	noPanic(t, func() { reviewFeed(t, p, r, recs...) })
	if n := p.Dropped["too_late"]; n != 0 {
		t.Fatalf("after one record with received_at ten years ahead, a valid live event is too_late (dropped %v)", p.Dropped)
	}
}

// 12. The symbol table (stream ids and error codes) only grew: streams that were closed and
// forgotten kept their id in memory and in every checkpoint, as did arbitrary error codes.
// Now error codes belong to their stream and go with it, and a forgotten stream's symbol is
// reused.
func TestReviewSymbolsGrowWithoutBound(t *testing.T) {
	p := New(DefaultConfig(), 0)
	r := newRows()
	now := specT0
	round := func() {
		for k := range 2000 {
			id := fmt.Sprintf("space-%d-%d", now, k)
			e := specEvent{ID: "e", Type: "error", Listener: "a", TS: now - specT0, Code: fmt.Sprintf("code-%d", k)}
			reviewFeed(t, p, r, e.record(id, now, event.FlagTrustedTime), endOf(id, now))
			now += 1000
			reviewFeed(t, p, r, tickAt(now))
		}
		now += forgetAfter + DefaultConfig().Horizon.Milliseconds()
		reviewFeed(t, p, r, tickAt(now))
		if len(p.streams) != 0 {
			t.Fatalf("%d streams left a week after they closed", len(p.streams))
		}
	}
	round()
	round()
	if n := len(p.names); n > 2000 {
		t.Fatalf("%d stream symbols after two rounds of 2 000 streams: forgotten streams' symbols are not reused", n)
	}
	if n := len(p.names) - len(p.freeNames); n != 0 {
		t.Fatalf("%d symbols held with no stream left", n)
	}
}

// 13. A checkpoint restored with a longer session.horizon that keeps the same ring size (30 →
// 45 min: both 64 minutes) passes Restore's check, but the too_late test now admits events
// that begin before the stream's finalTo (final minutes): p.minute panics "contribution to a
// final minute". Raising the horizon and restarting is a crash loop.
func TestReviewRestoreWithLongerHorizonPanics(t *testing.T) {
	cfg := DefaultConfig()
	p := New(cfg, 0)
	evs := append(ev1("a", "join@0", "hb@10/10000", "hb@600/10000", "hb@1200/10000", "hb@1800/10000"),
		ev1("b", "join@2400", "hb@2410/10000")...)
	reviewFeed(t, p, newRows(), trusted("s", evs)...) // clock 40 min, final up to 10 min
	data, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	longer := cfg
	longer.Horizon = 45 * time.Minute
	q, err := Restore(longer, data)
	if err != nil {
		return // refusing the restore is a fine answer
	}
	// Begins at 5 min: inside the new horizon (40 − 45 min), in a minute already final.
	noPanic(t, func() { reviewFeed(t, q, newRows(), trusted("s", ev1("c", "join@300", "hb@310/10000"))...) })
}

// 14. Restore reports corrupt listener blobs as errors, but a log length that does not fit
// (blobReader.take allocates make([]byte, n) for the n it was asked, even when the blob is
// shorter) panics: makeslice out of range, or an n-byte allocation for a large n.
func TestReviewCorruptCheckpointPanics(t *testing.T) {
	p := New(DefaultConfig(), 0)
	reviewFeed(t, p, newRows(), trusted("s", ev1("a", "join@0", "hb@10/10000"))...)
	data, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Format 3's layout (the listeners inside the gob), from format 4's.
	hn, hk := binary.Uvarint(data[1:])
	var snap snapshot
	if err := gob.NewDecoder(bytes.NewReader(data[1+hk : 1+hk+int(hn)])).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	snap.Streams[0].Listeners = data[1+hk+int(hn):]
	// The one listener: key, head, fold, foldQual, logBase, tail, bits, then the log's length.
	blob := snap.Streams[0].Listeners
	off := 8 + 2*33 + 2 + 4 + 5*4 + 3 + 2 + 8*p.ring.stride()
	_, k := binary.Uvarint(blob[off:])
	snap.Streams[0].Listeners = append(binary.AppendUvarint(slices0(blob[:off]), 1<<62), blob[off+k:]...)
	var buf bytes.Buffer
	buf.WriteByte(3) // format 3, where the listeners are in the gob
	if err := gob.NewEncoder(&buf).Encode(&snap); err != nil {
		t.Fatal(err)
	}
	noPanic(t, func() {
		if _, err := Restore(DefaultConfig(), buf.Bytes()); err == nil {
			t.Fatal("a corrupt checkpoint was restored")
		}
	})
}

func slices0(b []byte) []byte { return append([]byte{}, b...) }

// 15. Every stream's table allocates whole 4 096-slot pages (slots, logs and minute bits) for
// its first listener: ~690 KB for a one-listener stream at the default horizon, ~12.9 MB at a
// 72-h import horizon. A partition carrying 10 000 small live rooms (X Spaces scale) needs
// ~7 GB, against operations.md's "≈ 64 bytes per connected listener".
func TestReviewSmallStreamsCostAWholePage(t *testing.T) {
	p := New(DefaultConfig(), 0)
	const n = 300
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for k := range n {
		r := specEvent{ID: "j", Type: "join", Listener: "a"}.record(fmt.Sprintf("room-%d", k), specT0, 0)
		p.Add(&r, int64(k))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(p)
	if per := int64(after.HeapAlloc-before.HeapAlloc) / n; per > 64<<10 {
		t.Fatalf("%d KB of heap per one-listener stream", per>>10)
	}
}

// radio51Days is a trusted stream "radio" of 51 days: a listener session every 20 minutes (join,
// a heartbeat of 10 s, leave), listeners l0 … l39 in turn; session k's records get extra(k) flags.
func radio51Days(extra func(k int64) uint8) []event.Record {
	var recs []event.Record
	for k := int64(0); k < 51*24*3; k++ {
		l := fmt.Sprintf("l%d", k%40)
		ts := k * 20 * 60_000
		for _, e := range []specEvent{
			{ID: fmt.Sprintf("j%d", k), Type: "join", Listener: l, TS: ts},
			{ID: fmt.Sprintf("h%d", k), Type: "heartbeat", Listener: l, TS: ts + 10_000, Played: 10_000},
			{ID: fmt.Sprintf("x%d", k), Type: "leave", Listener: l, TS: ts + 15_000},
		} {
			recs = append(recs, e.record("radio", specT0+e.TS, event.FlagTrustedTime|extra(k)))
		}
	}
	return recs
}

// Closed turns true exactly when a minute has closed since the last TakeOutput (the output then
// holds that minute with its close time), and TakeOutput clears it: the aggregator writes a
// closed minute at once on it.
func TestClosedReportsAClosedMinute(t *testing.T) {
	p := New(DefaultConfig(), 0)
	join := specEvent{ID: "j", Type: "join", Listener: "a", TS: 5_000}.record("s", specT0+5_000, 0)
	p.Add(&join, 0)
	off := int64(1)
	closes := 0
	for ms := specT0; ms <= specT0+5*60_000; ms += 1000 {
		tick := tickAt(ms)
		p.Add(&tick, off)
		off++
		was := p.Closed()
		out := p.TakeOutput()
		closedNow := 0
		for _, m := range out.Minutes {
			if !m.ClosedAt.IsZero() {
				closedNow++
				m.ClosedAt = time.Time{}
			}
		}
		if was != (closedNow > 0) {
			t.Fatalf("at %d ms: Closed() = %v with %d minutes closed in the output", ms-specT0, was, closedNow)
		}
		if p.Closed() {
			t.Fatalf("at %d ms: Closed() still true after TakeOutput", ms-specT0)
		}
		closes += closedNow
		p.Recycle(out)
	}
	if closes == 0 {
		t.Fatal("no minute closed in 5 minutes of ticks")
	}
}
