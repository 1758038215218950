package session

import (
	"math"
	"time"

	"github.com/earshot/earshot/internal/window"
)

// stream is one stream's state in this partition, with its own clock (docs/time.md):
//
//   - live streams (any event timed by a collector's clock) follow the partition's ingest
//     clock, which stands still while ingest does;
//   - trusted-time streams (imports, replays) follow their own newest event, and end by an
//     explicit close or after session.replay_idle of ingest time without events.
//
// As the clock passes a minute's end + lookback the minute closes: every live session is
// applied to it and its provisional rows are written. As it passes the end + horizon the minute
// becomes final: its last row says so, and nothing can change it any more.
type stream struct {
	id   string
	sym  uint32
	base int64 // unix ms that listener times count from

	live        bool  // an event was timed by a collector's clock
	data        int64 // newest event time
	lastArrival int64 // newest collector receive time of its events
	closed      bool
	closedAt    int64 // ingest clock when closed
	// closedTo is the end of the last closed minute, finalTo of the last final one (unix ms):
	// minutes before finalTo are gone.
	closedTo, finalTo int64

	tab   table
	codes symbols // error codes (listener logs refer to them)
	// auth holds, for each listener that sent an event with a valid ticket, the earliest such
	// event's time (unix ms). It is kept for the stream's life, not the listener's slot: a slot
	// is freed when the listener has nothing open, at a moment that depends on the delivery.
	auth       map[uint64]int64
	minutes    map[int64]*window.Minute
	lastMinute *window.Minute
	quarters   map[int64]*quarter
	deliv      delivery
	clockDirty bool
}

// quarter is one stream's quarter hour: AQH persons (signed, like minute counters).
type quarter struct {
	aqh                           int64
	closed, final, dirty, emitted bool
}

func (q *quarter) add(sign int64) {
	q.aqh += sign
	q.dirty = true
}

// delivery counts how events arrived while the stream's clock was in one minute.
type delivery struct {
	minute                    int64
	late, duplicates, tooLate uint64
	dirty                     bool
}

// delivered counts how one event of s arrived, in the minute of s's clock.
func (p *Partition) delivered(s *stream, late, dup, tooLate uint64) {
	p.deliveryAt(s, p.clockMinute(s))
	d := &s.deliv
	d.late += late
	d.duplicates += dup
	d.tooLate += tooLate
	d.dirty = true
}

// deliveryAt moves s's delivery counts to minute, writing out the previous minute's.
func (p *Partition) deliveryAt(s *stream, minute int64) {
	d := &s.deliv
	if minute == d.minute {
		return
	}
	if d.dirty {
		p.out.Delivery = append(p.out.Delivery, p.deliveryOut(s, *d))
	}
	*d = delivery{minute: minute}
}

func (s *stream) rel(t int64) (uint32, bool) {
	d := t - s.base
	return uint32(d), d >= 0 && d < 1<<32
}

// clock is the stream's clock, given the partition's ingest clock.
func (s *stream) clock(ingest int64) int64 {
	switch {
	case s.closed:
		return math.MaxInt64 / 2
	case s.live:
		return max(s.data, ingest)
	}
	return s.data
}

// clockMinute is the minute of the stream's clock, where delivery is counted; for a closed
// stream (whose clock is at infinity) the ingest clock's or its newest event's.
func (p *Partition) clockMinute(s *stream) int64 {
	if s.closed {
		return window.MinuteOf(max(p.ingest, s.data))
	}
	return window.MinuteOf(s.clock(p.ingest))
}

// keepBefore is how far before a stream's first event its listener times may reach: a day,
// or the horizon when longer (every accepted event begins at most a horizon before the clock).
func (p *Partition) keepBefore() int64 {
	return max(24*3600*1000, p.horizon+window.QuarterMS)
}

// forgetAfter: a stream with nothing left in the open minutes is forgotten after this long of
// ingest time without events (or after its close). Until then it keeps the end of its final
// minutes, so a late copy or a resumed replay cannot write over final rows; forgotten, a
// stream that comes back starts again (a re-import a week later replaces its rows).
const forgetAfter = 7 * 24 * 3600 * 1000

// liveForgetAfter: a live stream (events with collector times) in that state is forgotten much
// sooner, so that stream ids nobody uses any more — typos, tests, ids an attacker minted — do not
// hold memory for a week. It is safe once no event can reach back into what was final: a live
// event is at most max_event_age (= the horizon) older than its receipt and begins at most
// event.MaxIntervalMS before its ts, so after twice the horizon and a quarter hour of silence
// any event for the stream begins after its final minutes, and a stream made anew for it
// writes only minutes that had no rows. What a listener carried across the silence (its first
// ticket) starts again with it: a stream silent that long has ended.
func (p *Partition) liveForgetAfter() int64 { return 2*p.horizon + window.QuarterMS }

// rebaseAfter: listener times are 32-bit milliseconds (49 days) from the stream's base, which
// moves forward once the final minutes are this far past it (a 24/7 stream runs for ever).
const rebaseAfter = 8 * 24 * 3600 * 1000

// streamFor returns the state of stream id, creating it with its clocks at t.
func (p *Partition) streamFor(id []byte, t int64) *stream {
	if s, ok := p.streams[string(id)]; ok {
		return s
	}
	if tb, ok := p.tombs[string(id)]; ok {
		return p.revive(string(id), tb)
	}
	s := &stream{id: string(id), sym: p.nameStream(string(id)), base: window.QuarterOf(t - p.keepBefore()),
		minutes: map[int64]*window.Minute{}, quarters: map[int64]*quarter{}, clockDirty: true}
	// A new stream's clock starts at its first event; a live stream's then moves on to the
	// ingest clock (advance).
	s.closedTo = window.MinuteOf(t - p.lookback)
	s.finalTo = window.MinuteOf(t - p.horizon)
	s.deliv.minute = window.MinuteOf(t)
	p.streams[s.id] = s
	return s
}

// tomb is what a stream forgotten early leaves: enough to make it anew as it was — its clocks,
// whether it was live or closed, and its listeners' first tickets. It holds no listener, minute
// or error code: a stream is forgotten only when none is open.
type tomb struct {
	Live, Closed                bool
	Data, LastArrival, ClosedAt int64
	ClosedTo, FinalTo           int64
	Auth                        map[uint64]int64
}

// revive makes stream id anew from its tombstone.
func (p *Partition) revive(id string, tb *tomb) *stream {
	delete(p.tombs, id)
	s := &stream{id: id, sym: p.nameStream(id), base: window.QuarterOf(tb.FinalTo - p.keepBefore()),
		minutes: map[int64]*window.Minute{}, quarters: map[int64]*quarter{}, clockDirty: true,
		live: tb.Live, closed: tb.Closed, data: tb.Data, lastArrival: tb.LastArrival, closedAt: tb.ClosedAt,
		closedTo: tb.ClosedTo, finalTo: tb.FinalTo, auth: tb.Auth}
	s.deliv.minute = tb.ClosedTo
	p.streams[id] = s
	return s
}

// pruneTombs drops the tombstones whose week is over.
func (p *Partition) pruneTombs() {
	for id, tb := range p.tombs {
		if p.ingest-max(tb.LastArrival, tb.ClosedAt) >= forgetAfter {
			delete(p.tombs, id)
		}
	}
}

// advance closes and finalises what the stream's clock has passed.
func (p *Partition) advance(s *stream) {
	if s.closed {
		return
	}
	c := s.clock(p.ingest)
	p.deliveryAt(s, window.MinuteOf(c))
	if to := window.MinuteOf(c - p.lookback); to > s.closedTo {
		p.closeTo(s, to)
	}
	if to := window.MinuteOf(c - p.horizon); to > s.finalTo {
		p.finalizeTo(s, to)
	}
}

// closeTo closes the stream's minutes up to `to`: every live session is applied up to there
// (or times out before), and the minutes' provisional rows are due.
func (p *Partition) closeTo(s *stream, to int64) {
	rel := p.rel(s, to)
	s.tab.each(func(i int32, sl *slot) {
		if sl.head.live() {
			d := deriv{p: p, s: s, key: sl.key, slot: i, sign: 1, bits: bitsApply}
			d.moveTo(&sl.head, rel)
		}
	})
	s.closedTo = to
	now := time.Now()
	for start, m := range s.minutes {
		if !m.Closed && start+window.MinuteMS <= to {
			p.closeMinute(m, now)
		}
	}
	for start, q := range s.quarters {
		if !q.closed && start+window.QuarterMS <= to {
			q.closed, q.dirty = true, true
		}
	}
	s.clockDirty = true
}

// closeMinute closes m at wall-clock time now: its provisional row is due (Closed).
func (p *Partition) closeMinute(m *window.Minute, now time.Time) {
	m.Closed, m.Dirty, m.ClosedAt = true, true, now
	p.closed = true
}

// finalizeTo makes the stream's minutes up to `to` final (their last rows due); every
// listener's log folds up to `to`, and listeners with nothing left in the open minutes are
// forgotten.
func (p *Partition) finalizeTo(s *stream, to int64) {
	p.finalizeWindows(s, to)
	rel := p.rel(s, to)
	from := s.finalTo
	s.tab.each(func(i int32, sl *slot) {
		p.fold(s, i, rel)
		bits := s.tab.bitsOf(p.ring, i)
		p.ring.clear(bits, from, to)
		h := &sl.head
		if !h.live() && len(*s.tab.log(i)) == 0 && p.ring.empty(bits) &&
			(h.audEnd == 0 || quarterOf(h.audEnd-1)+window.QuarterMS <= int64(rel)) {
			s.tab.remove(p.ring, i)
		}
	})
	s.finalTo = to
	s.clockDirty = true
	if to-s.base > p.keepBefore()+rebaseAfter {
		p.rebase(s, window.QuarterOf(to-p.keepBefore()))
	}
}

// rebase moves the stream's base forward to nb (a quarter-hour start before every open
// minute): every listener time is shifted. Times before nb belong to final minutes and only
// say "long ago"; they become 0.
func (p *Partition) rebase(s *stream, nb int64) {
	d := uint32(nb - s.base)
	sub := func(v *uint32) {
		if *v > d {
			*v -= d
		} else {
			*v = 0
		}
	}
	shift := func(st *lstate) {
		for _, v := range []*uint32{&st.pos, &st.start, &st.last, &st.audEnd} {
			sub(v)
		}
	}
	s.tab.each(func(i int32, sl *slot) {
		shift(&sl.head)
		shift(&sl.fold)
		sub(&sl.logBase)
		sub(&sl.tail.b)
		sub(&sl.tail.t)
	})
	s.base = nb
}

// finalizeWindows marks the minutes and quarter hours that end by `to` final.
func (p *Partition) finalizeWindows(s *stream, to int64) {
	for start, m := range s.minutes {
		if start+window.MinuteMS <= to && !m.Final {
			p.buildSets(s, m) // now: the listeners' bits of the minute are cleared next
			m.Final, m.Closed, m.Dirty = true, true, true
		}
	}
	for start, q := range s.quarters {
		if start+window.QuarterMS <= to && !q.final {
			q.final, q.closed, q.dirty = true, true, true
		}
	}
}

// buildSets fills m's distinct sets from the listeners' minute bits. Sets are not kept while
// a minute is open to corrections (a HyperLogLog sketch cannot forget a listener): built from
// the bits whenever the minute is written, each is exactly what in-order delivery builds,
// register for register.
func (p *Partition) buildSets(s *stream, m *window.Minute) {
	m.ClearSets()
	w, b := p.ring.pos(0, m.Start)
	stride, words := p.ring.stride(), p.ring.words
	for pg, page := range s.tab.slots {
		bits := s.tab.bits[pg]
		for j := range page {
			if !page[j].used {
				continue
			}
			base := j*stride + w
			for k := range window.Kinds {
				if bits[base+k*words]&b != 0 {
					m.Set(k).Insert(page[j].key)
				}
			}
		}
	}
	p.SetsBuilt++
}

// closeStream ends a stream: live sessions time out after their last events, and every minute
// and quarter hour becomes final at once. Later events of the stream are too late.
func (p *Partition) closeStream(s *stream) {
	if s.closed {
		return
	}
	s.tab.each(func(i int32, sl *slot) {
		if sl.head.live() {
			d := deriv{p: p, s: s, key: sl.key, slot: i, sign: 1, bits: bitsApply}
			d.moveTo(&sl.head, math.MaxUint32)
		}
	})
	end := s.closedTo
	for start := range s.minutes {
		end = max(end, start+window.MinuteMS)
	}
	for start := range s.quarters {
		end = max(end, start+window.QuarterMS)
	}
	for _, m := range s.minutes {
		if !m.Closed {
			p.closeMinute(m, time.Now())
		}
	}
	end = window.QuarterOf(end + window.QuarterMS - 1)
	p.finalizeWindows(s, end)
	s.tab = table{}
	s.closedTo, s.finalTo = max(s.closedTo, end), max(s.finalTo, end)
	s.closed, s.closedAt, s.clockDirty = true, p.ingest, true
}

// tick moves every live stream with the ingest clock and closes idle trusted streams. Streams
// are independent, so the order they are visited in changes no row.
func (p *Partition) tick() {
	for _, s := range p.streams {
		switch {
		case s.closed:
		case !s.live && p.ingest-s.lastArrival >= p.replayIdle:
			p.closeStream(s)
		default:
			p.advance(s)
		}
	}
}

// collect moves what is due to the output and forgets what is done.
func (p *Partition) collect() {
	for _, s := range p.streams {
		for start, m := range s.minutes {
			if m.Dirty && (m.Closed || p.emitOpen) {
				if !m.Final { // a final minute's sets were built when it became final
					p.buildSets(s, m)
				}
				// An empty minute has no row; one that had a row gets a deleting one.
				if empty := m.Empty(); !empty || m.Emitted {
					p.out.Minutes = append(p.out.Minutes, m)
					m.Emitted = !empty
				}
				m.Dirty = false
			}
			if m.Final && !m.Dirty {
				delete(s.minutes, start)
				if s.lastMinute == m {
					s.lastMinute = nil
				}
			}
		}
		for start, q := range s.quarters {
			if q.dirty && (q.closed || p.emitOpen) {
				if q.aqh != 0 || q.emitted {
					p.out.Quarters = append(p.out.Quarters, QuarterCount{Stream: s.id, Start: start,
						AQHPersons: uint64(max(q.aqh, 0)), Final: q.final, Deleted: q.aqh == 0})
					q.emitted = q.aqh != 0
				}
				q.dirty = false
			}
			if q.final && !q.dirty {
				delete(s.quarters, start)
			}
		}
		if s.deliv.dirty {
			p.out.Delivery = append(p.out.Delivery, p.deliveryOut(s, s.deliv))
			s.deliv.dirty = false
		}
		if s.clockDirty {
			c := s.data // a closed stream's clock is at infinity: show its newest event
			if !s.closed {
				c = s.clock(p.ingest)
			}
			p.out.Clocks = append(p.out.Clocks, Clock{Stream: s.id, Clock: c, ClosedTo: s.closedTo, FinalTo: s.finalTo, Closed: s.closed})
			s.clockDirty = false
		}
		quiet := p.ingest - max(s.lastArrival, s.closedAt)
		if s.tab.live == 0 && len(s.minutes) == 0 && len(s.quarters) == 0 && !s.deliv.dirty &&
			(quiet >= forgetAfter || s.live && !s.closed && quiet >= p.liveForgetAfter()) {
			p.forgetStream(s)
		}
	}
	p.emitOpen = false
	if p.ingest-p.prunedAt >= window.MinuteMS {
		p.pruneTombs()
		p.prunedAt = p.ingest
	}
}

func (p *Partition) deliveryOut(s *stream, d delivery) Delivery {
	return Delivery{Stream: s.id, Minute: d.minute, Late: d.late, Duplicates: d.duplicates, TooLate: d.tooLate}
}
