package session

import (
	"cmp"

	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// This file is the SPEC's rules for one listener (docs/metrics.md, "Sessions" and "Per minute"):
// a machine that takes the listener's events in order and says what they contribute to the
// stream's minutes. The order is where events begin (ts − played_ms for a heartbeat), then ts,
// then type, then event-id fingerprint: it depends on the events alone, so the same machine run
// over the same events gives the same figures however they arrived.
//
// Times are milliseconds since the stream's base (uint32: 49 days).

// ev is one listener event as the machine takes it.
type ev struct {
	b, t    uint32 // where it begins (ts − played_ms for a heartbeat, ts otherwise) and its ts
	played  uint32 // heartbeat: played_ms
	stalled uint32 // heartbeat: stalled_ms
	code    uint32 // error: the error code's symbol
	typ     event.Type
	muted   bool
	fp      uint8 // the event-id fingerprint's low 7 bits: tells copies from other events at the same instant
}

// rank orders the events of one listener that begin and end at the same instant: a session is
// opened before anything happens in it, and a leave comes last (see sameInstant for leaves).
func (e *ev) rank() uint8 {
	switch e.typ {
	case event.TypeJoin:
		return 0
	case event.TypePlay:
		return 1
	case event.TypeHeartbeat:
		return 2
	case event.TypeError:
		return 3
	}
	return 4
}

// cmpEv is the machine's order. Equal events are copies.
func cmpEv(a, b *ev) int {
	if c := cmp.Compare(a.b, b.b); c != 0 {
		return c
	}
	if c := cmp.Compare(a.t, b.t); c != 0 {
		return c
	}
	if c := cmp.Compare(a.rank(), b.rank()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.fp, b.fp); c != 0 {
		return c
	}
	// Same listener, instant, type and fingerprint: a copy, unless the payloads differ (two
	// devices); order those by payload so the order stays a function of the events.
	if c := cmp.Compare(a.played, b.played); c != 0 {
		return c
	}
	if c := cmp.Compare(a.stalled, b.stalled); c != 0 {
		return c
	}
	if c := cmp.Compare(a.code, b.code); c != 0 {
		return c
	}
	return cmp.Compare(b2i(a.muted), b2i(b.muted))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lstate is the machine's state for one listener: 36 bytes, no pointers.
//
// Audio accumulators. Events come in the order they begin, so when the machine stands at pos
// no later event can add audio before pos: every minute before minute(pos) is complete. Audio
// already applied reaches at most to audEnd, and the heartbeat that reached it began at or
// before pos, so it covers every minute strictly between minute(pos) and minute(audEnd−1)
// whole (those are decided: 60 s ≥ hearing_min). Only two minutes can still be undecided:
// minute(pos) (accA) and minute(audEnd−1) (accB, when later). The same holds for quarter
// hours with qA and qB, because no heartbeat is longer than 10 minutes (event.MaxIntervalMS).
type lstate struct {
	pos     uint32 // every event beginning before pos has been applied, and time up to pos
	start   uint32 // the session's start
	last    uint32 // the session's latest ts
	audEnd  uint32 // end of the unmuted audio applied (0: none)
	sPlayed uint32 // unmuted ms of the live session
	qA, qB  uint32 // unmuted ms in quarter(pos), and in quarter(audEnd−1) when later
	accA    uint16 // unmuted ms in minute(pos), saturating
	accB    uint16 // unmuted ms in minute(audEnd−1) when later, saturating
	flags   uint8
}

// lstate flags.
const (
	stLive      = 1 << iota // a session is live
	stPlayed                // the live session played or rendered audio: no start failure
	stFailDone              // the live session's start failure is decided
	stQualified             // the live session reached the qualified threshold
)

func (st *lstate) live() bool { return st.flags&stLive != 0 }

// What a run of the machine does with the minute bits it sets.
const (
	// bitsApply: set them on the listener, with their side effects (distinct sets, listener
	// rows). The hot path and clock moves.
	bitsApply = iota
	// bitsRecord: record them in deriv.flags. Deriving a listener again, folding.
	bitsRecord
	// bitsNone: drop them. Taking back an old derivation, whose bits are the listener's own.
	bitsNone
)

// deriv is one run of the machine for one listener of one stream.
type deriv struct {
	p    *Partition
	s    *stream
	key  uint64
	slot int32
	// sign moves counters and per-second counts: +1 apply, −1 take back, 0 leave them.
	sign  int64
	bits  int
	flags []uint64 // bitsRecord: minute bits, in the listener ring's layout
	// floor: bitsRecord drops bits of minutes before it (unix ms): final minutes, whose ring
	// positions may already stand for later minutes.
	floor int64
}

// minuteOf and quarterOf of a listener time: the stream's base is a quarter-hour start, so
// relative windows line up with the absolute ones.
func minuteOf(r uint32) int64  { return window.MinuteOf(int64(r)) }
func quarterOf(r uint32) int64 { return window.QuarterOf(int64(r)) }

// minute returns the stream's minute at relative start m for a contribution.
func (d *deriv) minute(m int64) *window.Minute {
	mm := d.p.minute(d.s, d.s.base+m)
	mm.Dirty = true
	return mm
}

func (d *deriv) counting() bool { return d.sign != 0 }

// flag says the listener is in the set of kind k of the minute at relative start m.
func (d *deriv) flag(k int, m int64) {
	switch d.bits {
	case bitsApply:
		d.p.setBit(d.s, d.slot, d.key, k, d.s.base+m)
	case bitsRecord:
		if d.s.base+m >= d.floor {
			d.p.ring.set(d.flags, k, d.s.base+m)
		}
	}
}

// moveTo moves the machine to x: a session whose timeout falls before x ends there, a start
// failure due before x is counted, and a live session's connected time up to x is applied.
// Moving in several steps or at once gives the same result.
func (d *deriv) moveTo(st *lstate, x uint32) {
	if x <= st.pos {
		return
	}
	if st.live() {
		end := uint64(st.last) + uint64(d.p.tout)
		if end <= uint64(x) {
			e := uint32(end)
			d.connect(st, e, true)
			d.failure(st, e, true)
			if d.counting() {
				d.minute(minuteOf(e)).Timeouts += d.sign
			}
			st.flags &^= stLive
		} else {
			d.failure(st, x, false)
			d.connect(st, x, false)
		}
	}
	d.shift(st, x)
	st.pos = x
}

// connect applies the live session from the machine's position up to `to`: the connected bit
// of every minute that [pos, to) overlaps (the session's first minute was flagged at its
// start), and per-second counts for whole minutes — up to `to` itself when the session ends
// there — so that what is applied depends on how far the machine has come, not on its steps.
func (d *deriv) connect(st *lstate, to uint32, ending bool) {
	if to > st.pos {
		// minute(pos) is flagged already unless pos is its first instant and the session
		// started before it: [.., pos) did not overlap it.
		m := minuteOf(st.pos)
		if int64(st.pos) > m || st.start == st.pos {
			m += window.MinuteMS
		}
		for ; m <= minuteOf(to-1); m += window.MinuteMS {
			d.flag(window.KindConnected, m)
		}
	}
	if !d.counting() {
		return
	}
	from := max(int64(st.start), minuteOf(st.pos))
	until := minuteOf(to)
	if ending {
		until = int64(to)
	}
	for m := minuteOf(uint32(from)); m < until; m += window.MinuteMS {
		mm := d.minute(m)
		mm.AddSeconds(&mm.ConnDiff, d.s.base+max(from, m), d.s.base+min(until, m+window.MinuteMS), int32(d.sign))
	}
}

// failure counts the live session's start failure if it is due by x: start + start_failure_after
// without play or audio, or the session's end (ending) when that comes sooner.
func (d *deriv) failure(st *lstate, x uint32, ending bool) {
	if st.flags&(stPlayed|stFailDone) != 0 {
		return
	}
	deadline := uint64(st.start) + uint64(d.p.failAfter)
	at := uint64(x)
	switch {
	case deadline <= at:
		at = deadline
	case !ending:
		return
	}
	st.flags |= stFailDone
	if d.counting() {
		d.minute(minuteOf(uint32(at))).StartFailures += d.sign
	}
}

// shift moves the audio accumulators along with the position (see lstate): minute(x) takes
// accB when it is minute(audEnd−1), is decided when before it, starts empty when after.
func (d *deriv) shift(st *lstate, x uint32) {
	if m := minuteOf(x); m != minuteOf(st.pos) {
		switch aud := minuteOf(st.audEnd - 1); {
		case st.audEnd == 0 || aud < m:
			st.accA, st.accB = 0, 0
		case aud == m:
			st.accA, st.accB = st.accB, 0
		default:
			st.accA = 1<<16 - 1 // covered whole by the heartbeat that reached audEnd
		}
	}
	if q := quarterOf(x); q != quarterOf(st.pos) {
		switch aud := quarterOf(st.audEnd - 1); {
		case st.audEnd == 0 || aud < q:
			st.qA, st.qB = 0, 0
		case aud == q:
			st.qA, st.qB = st.qB, 0
		default:
			// No heartbeat is longer than 10 minutes, so audio never covers a quarter hour
			// whole and the position never passes one still ahead of audEnd: a bug.
			d.p.drop("bug_quarter_accumulators")
			st.qA, st.qB = 0, 0
		}
	}
}

// start opens a session at x; the listener is connected in that minute from its first instant.
func (d *deriv) start(st *lstate, x uint32) {
	st.flags = st.flags&^(stPlayed|stFailDone|stQualified) | stLive
	st.start, st.last, st.sPlayed = x, x, 0
	d.flag(window.KindConnected, minuteOf(x))
}

// apply applies one event; the machine stands at e.b (moveTo was called).
func (d *deriv) apply(st *lstate, e *ev) {
	m := minuteOf(e.t)
	switch e.typ {
	case event.TypeJoin:
		if d.counting() {
			d.minute(m).Joins += d.sign
		}
		if !st.live() {
			d.start(st, e.t)
		}
	case event.TypeLeave:
		if d.counting() {
			d.minute(m).Leaves += d.sign
		}
		if st.live() {
			d.connect(st, e.t, true)
			d.failure(st, e.t, true)
			st.flags &^= stLive
		}
		return
	case event.TypePlay:
		if d.counting() {
			d.minute(m).Plays += d.sign
		}
		if !st.live() {
			d.start(st, e.t)
		}
		st.flags |= stPlayed
	case event.TypeError:
		if d.counting() {
			d.minute(m).AddError(d.s.codes.name(e.code), d.sign)
		}
		if !st.live() {
			return // an error alone starts no session
		}
	case event.TypeHeartbeat:
		if d.counting() && e.stalled > 0 {
			d.minute(m).StalledMS += int64(e.stalled) * d.sign
		}
		if !st.live() {
			d.start(st, e.b)
		}
		if e.played > 0 {
			st.flags |= stPlayed // audio was rendered, muted or not: the session started
			if a := d.trim(st, e); a.b < a.t {
				if a.muted {
					d.muted(a)
				} else {
					d.audio(st, a)
				}
			}
		}
	}
	st.last = max(st.last, e.t)
}

// trim returns the part of heartbeat e's interval [b, t) not reported yet, and counts what it
// cut (played_trimmed_ms, in the minute of e's ts: never heard). played_ms is audio rendered
// since the previous heartbeat, so what reaches back over audio already reported is an overlap —
// a second device on the account, a player bug, or a forged stack of heartbeats, which would
// otherwise count the same seconds again in played_ms, hearing, AQH and qualified:
//   - unmuted audio is cut to begin no earlier than the end of the unmuted audio the listener
//     has reported (audEnd). Cutting at audEnd keeps the listener's unmuted audio contiguous
//     from where it resumed, which the hearing accumulators rely on (lstate);
//   - muted audio is cut at the session's latest event.
//
// It depends only on the listener's events: the machine applies them in one order whatever
// their delivery.
func (d *deriv) trim(st *lstate, e *ev) *ev {
	from := st.last
	if !e.muted {
		from = st.audEnd
	}
	if from <= e.b {
		return e // the common case: nothing reported overlaps
	}
	a := *e
	a.b = min(from, a.t)
	a.played = a.t - a.b
	if d.counting() {
		d.minute(minuteOf(e.t)).TrimmedMS += int64(e.played-a.played) * d.sign
	}
	return &a
}

func (d *deriv) muted(e *ev) {
	if !d.counting() {
		return
	}
	for m := minuteOf(e.b); m < int64(e.t); m += window.MinuteMS {
		d.minute(m).MutedMS += (min(int64(e.t), m+window.MinuteMS) - max(int64(e.b), m)) * d.sign
	}
}

// audio applies a heartbeat's unmuted audio [b, t): played ms by minute, the hearing bits, the
// quarter hours' AQH, the per-second hearing counts of the audio not heard before, and the
// session's qualified threshold.
func (d *deriv) audio(st *lstate, e *ev) {
	hearMin := uint32(d.p.hearMin)
	aud := minuteOf(st.audEnd - 1)
	if st.audEnd == 0 {
		aud = -1
	}
	pos, lastM := minuteOf(st.pos), minuteOf(e.t-1)
	for m := minuteOf(e.b); m <= lastM; m += window.MinuteMS {
		ov := min(int64(e.t), m+window.MinuteMS) - max(int64(e.b), m)
		if d.counting() {
			d.minute(m).PlayedMS += ov * d.sign
		}
		// The hearing bit is set when a minute's audio crosses hearing_min (once: bits are
		// idempotent, and a minute already decided was flagged when it was).
		heard := false
		switch {
		case m == pos:
			before := uint32(st.accA)
			st.accA = sat16(before + uint32(ov))
			heard = before < hearMin && uint32(st.accA) >= hearMin
		case m < lastM:
			heard = true // a whole minute
		case m == aud:
			before := uint32(st.accB)
			st.accB = sat16(before + uint32(ov))
			heard = before < hearMin && uint32(st.accB) >= hearMin
		case m > aud:
			st.accB = sat16(uint32(ov))
			heard = uint32(st.accB) >= hearMin
		}
		if heard {
			d.flag(window.KindHearing, m)
		}
	}
	qPos, qAud := quarterOf(st.pos), quarterOf(st.audEnd-1)
	if st.audEnd == 0 {
		qAud = -1
	}
	aqh := uint32(d.p.aqhMin)
	for q := quarterOf(e.b); q < int64(e.t); q += window.QuarterMS {
		ov := uint32(min(int64(e.t), q+window.QuarterMS) - max(int64(e.b), q))
		acc := &st.qB
		switch {
		case q == qPos:
			acc = &st.qA
		case q != qAud:
			st.qB = 0
		}
		before := *acc
		*acc += ov
		if before < aqh && *acc >= aqh && d.counting() {
			d.p.quarter(d.s, d.s.base+q).add(d.sign)
		}
	}
	if from := max(e.b, st.audEnd); from < e.t && d.counting() {
		for m := minuteOf(from); m < int64(e.t); m += window.MinuteMS {
			mm := d.minute(m)
			mm.AddSeconds(&mm.HearDiff, d.s.base+max(int64(from), m), d.s.base+min(int64(e.t), m+window.MinuteMS), int32(d.sign))
		}
	}
	st.audEnd = max(st.audEnd, e.t)
	before := st.sPlayed
	st.sPlayed = satAdd32(st.sPlayed, e.played)
	if before < uint32(d.p.qual) && st.sPlayed >= uint32(d.p.qual) {
		st.flags |= stQualified
		m := minuteOf(e.t)
		if d.counting() {
			d.minute(m).Qualified += d.sign
		}
		d.flag(window.KindQualified, m)
	}
}

func sat16(v uint32) uint16 { return uint16(min(v, 1<<16-1)) }

func satAdd32(a, b uint32) uint32 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<32 - 1
}

// run applies evs (sorted by cmpEv) from st. Events that begin and end at the same instant
// are a group: when a session is live before the instant, the events that continue it (play,
// heartbeat, error) come first, then its leaves, then joins (the last beat, a leave and a
// rejoin); otherwise in cmpEv's order, so a join opens a session before a leave ends it at once.
func (d *deriv) run(st *lstate, evs []ev) {
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[j].b == evs[i].b && evs[j].t == evs[i].t {
			j++
		}
		d.moveTo(st, evs[i].b)
		if j-i > 1 && st.live() {
			for _, pass := range [...]func(event.Type) bool{
				func(t event.Type) bool { return t != event.TypeJoin && t != event.TypeLeave },
				func(t event.Type) bool { return t == event.TypeLeave },
				func(t event.Type) bool { return t == event.TypeJoin },
			} {
				for x := i; x < j; x++ {
					if pass(evs[x].typ) {
						d.apply(st, &evs[x])
					}
				}
			}
		} else {
			for x := i; x < j; x++ {
				d.apply(st, &evs[x])
			}
		}
		i = j
	}
}

// seed records the bits that events before the machine's state (folded away) set in minutes
// from minute(pos) on: connected while live and past the minute's start, hearing decided by
// the accumulators or covered whole, qualified from foldQual (bit i: the minute i minutes after
// minute(pos)).
func (d *deriv) seed(st *lstate, foldQual uint16) {
	pos := minuteOf(st.pos)
	if st.live() && (int64(st.pos) > pos || st.start == st.pos) {
		d.flag(window.KindConnected, pos)
	}
	hearMin := uint16(min(d.p.hearMin, 1<<16-1))
	if st.accA >= hearMin {
		d.flag(window.KindHearing, pos)
	}
	if st.audEnd != 0 {
		aud := minuteOf(st.audEnd - 1)
		for m := pos + window.MinuteMS; m < aud; m += window.MinuteMS {
			d.flag(window.KindHearing, m)
		}
		if aud > pos && st.accB >= hearMin {
			d.flag(window.KindHearing, aud)
		}
	}
	for i := range 16 {
		if foldQual&(1<<i) != 0 {
			d.flag(window.KindQualified, pos+int64(i)*window.MinuteMS)
		}
	}
}
