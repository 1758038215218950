// Package session turns one Kafka partition's event records into audience figures: it tracks
// every listener's sessions by the SPEC's rules and fills per-minute windows (pkg/window),
// which it closes as event time advances.
//
// Time. Events are released to the session logic in event-time order through a reorder
// buffer: the partition's processing time P is the largest event time seen minus Lateness,
// and every buffered second that has ended by P is applied, oldest first (sorted by time within
// the second, Kafka order among equal times). Events at or before P when
// they arrive are late: they are applied as corrections (counters, distinct sets) to their
// minute, which is re-emitted with a higher version, but they do not change sessions. A minute
// closes once P passes its end plus Lookback (heartbeats report audio up to 10 s back), and is
// kept Retention longer for corrections.
//
// Rules (SPEC, Definitions), per (stream, listener):
//   - A session starts at join, or at the first heartbeat/play/error of a listener without a
//     live session, and ends at leave or SessionTimeout after the listener's last event.
//   - connected: a listener with a live session at any moment of the minute. The session's
//     interval is applied to every minute it overlaps when the minute closes or the session
//     ends, so a listener who is silent for 50 s still counts, by the rules.
//   - hearing: ≥ HearingMin of unmuted audio rendered inside the minute. A heartbeat's
//     played_ms covers [ts − played_ms, ts) and is split over minutes by overlap.
//   - qualified: a session that accumulated ≥ Qualified of unmuted audio.
//   - AQH persons: listeners with ≥ AQHMin of unmuted audio in the clock quarter hour.
//   - start failure: a session without play (or audible audio) within StartFailureAfter.
//   - duplicates: a listener's event whose event_id fingerprint matches one of its last three,
//     or one not newer than its last event once its session has ended (a late retry).
//   - per-second concurrency: a listener counts at second s when s's midpoint lies in its
//     session (connected) or in audio it rendered unmuted (hearing); overlapping heartbeat
//     intervals of one listener are trimmed, so nobody counts twice in a second.
package session

import (
	"errors"
	"slices"
	"time"

	"github.com/earshot/earshot/pkg/event"
	"github.com/earshot/earshot/pkg/window"
)

// Config holds the rules' thresholds. Defaults are the SPEC's.
type Config struct {
	// SessionTimeout ends a session this long after the listener's last event (SPEC: 60 s).
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
	// HearingMin is the unmuted audio a listener must render in a minute to count as hearing
	// (SPEC: 2 000 ms, the MRC audible-impression rule).
	HearingMin time.Duration `mapstructure:"hearing_min"`
	// Qualified is the unmuted audio that makes a session qualified (SPEC: 60 s, IAB/Triton).
	Qualified time.Duration `mapstructure:"qualified"`
	// AQHMin is the unmuted audio in a quarter hour that makes an AQH person (Nielsen: 5 min).
	AQHMin time.Duration `mapstructure:"aqh_min"`
	// StartFailureAfter: a session with no play this long after it started is a start failure.
	StartFailureAfter time.Duration `mapstructure:"start_failure_after"`
	// Lateness is how far event time may run out of order: clients' clocks are clamped to
	// 30 s of skew at the collector, plus a few seconds for batching; 35 s.
	Lateness time.Duration `mapstructure:"lateness"`
	// Lookback keeps a minute open after its end for heartbeats that report audio from before
	// it: players beat every 10 s, so 15 s.
	Lookback time.Duration `mapstructure:"lookback"`
	// Retention keeps closed minutes for corrections by late events: 10 minutes.
	Retention time.Duration `mapstructure:"retention"`
}

// DefaultConfig returns the SPEC's rules.
func DefaultConfig() Config {
	return Config{
		SessionTimeout:    60 * time.Second,
		HearingMin:        2 * time.Second,
		Qualified:         60 * time.Second,
		AQHMin:            5 * time.Minute,
		StartFailureAfter: 30 * time.Second,
		Lateness:          35 * time.Second,
		Lookback:          15 * time.Second,
		Retention:         10 * time.Minute,
	}
}

// Validate names the first key that is wrong.
func (c Config) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"session_timeout", c.SessionTimeout}, {"hearing_min", c.HearingMin}, {"qualified", c.Qualified},
		{"aqh_min", c.AQHMin}, {"start_failure_after", c.StartFailureAfter}, {"lookback", c.Lookback},
		{"retention", c.Retention}} {
		if d.v <= 0 {
			return errors.New("session." + d.name + " must be positive")
		}
	}
	if c.Lateness < 0 {
		return errors.New("session.lateness must not be negative")
	}
	return nil
}

// Listener flags.
const (
	fLive        = 1 << iota // a session is live
	fPlayed                  // the live session has played
	fFailCounted             // the live session's start failure was counted
	fQualified               // the live session is qualified
	fMinuteFinal             // the minute accumulator was finalized
	fQuarterDone             // the quarter accumulator was finalized
	fHasMinute               // minute/quarter accumulators are set
	fEnded                   // a session ended; last is its latest event
)

// listener is the packed per-(stream, listener) state: 40 bytes in pages of 4 096, plus ~26 in
// the index map. Times are milliseconds since the stream's base (uint32: 49 days). The part of
// a live session already applied to minutes is everything before max(start, closedTo).
type listener struct {
	start     uint32 // session start
	last      uint32 // latest event time in the session
	audEnd    uint32 // end of the latest audible interval applied per second
	minute    uint32 // start of the minute accumulator
	qPlayed   uint32 // unmuted ms in the quarter of minute
	sPlayed   uint32 // unmuted ms in the live session
	fps       [3]uint32
	minPlayed uint16 // unmuted ms in minute (≤ 60 000)
	flags     uint16 // f* below; bits 14–15: next fingerprint slot
}

// lref is a listener with its key (the key lives in the index map only).
type lref struct {
	key uint64
	*listener
}

const pageBits = 12

// stream is one stream's state in this partition.
type stream struct {
	id         string
	sym        uint32         // id's symbol
	lastMinute *window.Minute // the minute looked up last: most lookups repeat it
	base       int64          // unix ms that listener times count from
	index      map[uint64]int32
	pages      [][]listener
	used       int32 // slots handed out
	free       []int32
	minutes    map[int64]*window.Minute
	quarters   map[int64]uint64 // open quarter start → AQH persons counted
	qDirty     map[int64]bool
	lastEvent  int64
}

// Partition is the state of one Kafka partition. Not safe for concurrent use: one worker owns it.
type Partition struct {
	cfg                                                                   Config
	id                                                                    uint16
	tout, hearMin, qual, aqhMin, failAfter, lateness, lookback, retention int64

	streams    map[string]*stream
	symStreams []*stream // streams by symbol
	hints      []int32   // applyBatch's table slots
	touch      uint16    // keeps applyBatch's prefetching reads alive
	last       *stream   // the stream of the previous record: most records continue it
	buf        reorder
	syms       symbols
	// maxEvent is the largest event time seen; processed is P (see package doc); closedTo
	// is the end of the last minute closed for all streams.
	maxEvent, processed, closedTo int64
	started                       bool
	// Offset is the last Kafka offset folded in; rows carry it as their version.
	Offset int64
	// Dropped counts records that could not be applied, by reason.
	Dropped map[string]uint64

	out   Output
	spare []window.ListenerRow // recycled listener-row storage
}

// Output is what a Partition emits for the sink.
type Output struct {
	Minutes   []*window.Minute
	Quarters  []QuarterCount
	Listeners window.ListenerRows
}

// QuarterCount is one stream's AQH persons for one quarter hour in this partition.
type QuarterCount struct {
	Stream     string
	Start      int64
	AQHPersons uint64
}

// New returns an empty partition state.
func New(cfg Config, partition uint16) *Partition {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	return &Partition{
		cfg: cfg, id: partition,
		tout: ms(cfg.SessionTimeout), hearMin: ms(cfg.HearingMin), qual: ms(cfg.Qualified), aqhMin: ms(cfg.AQHMin),
		failAfter: ms(cfg.StartFailureAfter), lateness: ms(cfg.Lateness), lookback: ms(cfg.Lookback), retention: ms(cfg.Retention),
		streams: map[string]*stream{}, Dropped: map[string]uint64{}, Offset: -1,
	}
}

// ID is the partition number.
func (p *Partition) ID() uint16 { return p.id }

// Processed is the event time up to which events have been applied (P).
func (p *Partition) Processed() int64 { return p.processed }

// Add folds one record at Kafka offset into the state. The record's byte slices may be reused
// by the caller afterwards.
func (p *Partition) Add(r *event.Record, offset int64) {
	p.Offset = offset
	e := p.toEv(r)
	if !p.started {
		p.started = true
		p.maxEvent = e.t
		p.processed = e.t - p.lateness
		p.closedTo = window.MinuteOf(p.processed)
	}
	if e.t <= p.processed {
		p.applyLate(&e)
		return
	}
	p.buf.push(e)
	if e.t > p.maxEvent {
		p.maxEvent = e.t
		p.advance(p.maxEvent - p.lateness)
	}
}

// AdvanceTo moves processing time forward to at least t (unix ms) even without events, so
// the last minutes of a stream that went quiet close. The aggregator calls it with event time
// extrapolated by wall-clock time since the last event.
func (p *Partition) AdvanceTo(t int64) {
	if p.started && t > p.processed {
		p.advance(t)
	}
}

// Flush closes every minute that holds data up to the newest event, as if the stream had
// ended: for graceful shutdown, and for tests that want the final figures. Later events are
// still applied (as corrections or new minutes).
func (p *Partition) Flush() {
	if !p.started {
		return
	}
	// Through the end of the quarter hour in which the last session times out, so the AQH
	// of the final quarter is counted too.
	p.advance(window.QuarterOf(p.maxEvent+p.tout) + window.QuarterMS + p.lookback)
}

func (p *Partition) advance(to int64) {
	for {
		// Release buffered events up to the next minute boundary that must close, so minutes
		// close in order with exactly the events before them.
		nextClose := p.closedTo + window.MinuteMS + p.lookback
		target := min(to, nextClose)
		// Whole seconds only: every second before `sec` has ended at target.
		sec := floorDiv(target+1, 1000)
		p.buf.popBefore(sec, p.applyBatch)
		p.processed = max(p.processed, sec*1000-1)
		if target < nextClose {
			return
		}
		p.closeMinute(p.closedTo)
		p.closedTo += window.MinuteMS
		if len(p.streams) == 0 && p.buf.n == 0 && to > p.closedTo+window.MinuteMS+p.lookback {
			// Nothing left to close: jump (a replayed stream from years ago, then idle).
			p.closedTo = window.MinuteOf(to-p.lookback) - window.MinuteMS
		}
	}
}

// ev is a record as the buffer keeps it, copied out of the Kafka message: 40 bytes. Strings
// are interned symbols; aux holds stalled_ms (heartbeat), the error code's symbol (error) or
// the displayed count (displayed).
type ev struct {
	t        int64
	listener uint64
	aux      uint64
	fp       uint32
	played   uint32
	stream   uint32
	typ      event.Type
	flags    uint8
}

// begins is when the event shows the listener present: a heartbeat from the start of the audio
// it reports, any other event at its time.
func (e *ev) begins() int64 {
	if e.typ == event.TypeHeartbeat {
		return e.t - int64(e.played)
	}
	return e.t
}

// symbols interns stream ids and error codes for the buffer.
type symbols struct {
	names []string
	index map[string]uint32
}

func (y *symbols) intern(b []byte) uint32 {
	if i, ok := y.index[string(b)]; ok {
		return i
	}
	if y.index == nil {
		y.index = map[string]uint32{}
	}
	i := uint32(len(y.names))
	y.names = append(y.names, string(b))
	y.index[y.names[i]] = i
	return i
}

func (y *symbols) name(i uint32) string { return y.names[i] }

func (p *Partition) toEv(r *event.Record) ev {
	s := p.last
	if s == nil || s.id != string(r.StreamID) {
		s = p.stream(r.StreamID, r.EventTime)
		p.last = s
	}
	e := ev{t: r.EventTime, listener: r.Listener, fp: uint32(r.Fingerprint), played: r.PlayedMS,
		stream: s.sym, typ: r.Type, flags: r.Flags}
	switch r.Type {
	case event.TypeHeartbeat:
		e.aux = uint64(r.StalledMS)
	case event.TypeError:
		e.aux = uint64(p.syms.intern(r.ErrorCode))
	case event.TypeDisplayed:
		e.aux = r.DisplayedCount
	}
	return e
}

func (p *Partition) stream(id []byte, t int64) *stream {
	if s, ok := p.streams[string(id)]; ok {
		return s
	}
	s := &stream{id: string(id), sym: p.syms.intern(id), base: t - 24*3600*1000, index: map[uint64]int32{},
		minutes: map[int64]*window.Minute{}, quarters: map[int64]uint64{}, qDirty: map[int64]bool{}}
	p.streams[s.id] = s
	p.setSym(s)
	return s
}

// minute returns the stream's minute holding t, creating it while it may still be open.
// It returns nil when that minute is no longer kept.
func (p *Partition) minute(s *stream, t int64) *window.Minute {
	start := window.MinuteOf(t)
	if m := s.lastMinute; m != nil && m.Start == start {
		return m
	}
	if m, ok := s.minutes[start]; ok {
		s.lastMinute = m
		return m
	}
	if start < p.closedTo-p.retention {
		return nil
	}
	m := window.NewMinute(s.id, start)
	if start < p.closedTo {
		m.Closed, m.Dirty = true, true // a correction to a minute that had no row yet
	}
	s.minutes[start] = m
	s.lastMinute = m
	return m
}

func (p *Partition) setSym(s *stream) {
	for int(s.sym) >= len(p.symStreams) {
		p.symStreams = append(p.symStreams, nil)
	}
	p.symStreams[s.sym] = s
}

// streamOf finds the event's stream; it may have been forgotten while the event was buffered.
func (p *Partition) streamOf(e *ev) *stream {
	if s := p.bySym(e.stream); s != nil {
		return s
	}
	return p.stream([]byte(p.syms.name(e.stream)), e.t)
}

func (s *stream) hasQuarter(q int64) bool {
	_, ok := s.quarters[q]
	return ok
}

func (s *stream) rel(t int64) (uint32, bool) {
	d := t - s.base
	return uint32(d), d >= 0 && d < 1<<32
}

func (s *stream) abs(r uint32) int64 { return s.base + int64(r) }

func (p *Partition) drop(reason string) { p.Dropped[reason]++ }

// apply runs one in-order event through the session rules.
// applyBatch applies one second's events. It first looks every listener up in a tight loop,
// which lets the processor overlap the cache misses of a large table (one lookup per event is
// most of the hot path's time), then applies the events in order with the slots found.
// Slots stay valid in between: listeners are only removed when a minute closes.
func (p *Partition) applyBatch(evs []ev, order []int32) {
	hint := p.hints[:0]
	var touch uint16
	for i := range evs {
		slot := int32(-1)
		if e := &evs[i]; e.typ != event.TypeDisplayed {
			if s := p.bySym(e.stream); s != nil {
				if j, ok := s.index[e.listener]; ok {
					slot = j
					touch += s.at(j).flags // pull the state's cache line in too
				}
			}
		}
		hint = append(hint, slot)
	}
	p.touch = touch
	p.hints = hint
	for k := range evs {
		i := k
		if order != nil {
			i = int(order[k])
		}
		p.apply(&evs[i], hint[i])
	}
}

// bySym returns the live stream with symbol sym, or nil.
func (p *Partition) bySym(sym uint32) *stream {
	if int(sym) < len(p.symStreams) {
		return p.symStreams[sym]
	}
	return nil
}

// apply runs one in-order event through the session rules; slot is the listener's table slot
// when known (−1: look it up).
func (p *Partition) apply(e *ev, slot int32) {
	s := p.streamOf(e)
	s.lastEvent = max(s.lastEvent, e.t)
	m := p.minute(s, e.t)
	t, ok := s.rel(e.t)
	if !ok || m == nil {
		p.drop("time_out_of_range")
		return
	}
	if e.typ == event.TypeDisplayed {
		m.Displayed(e.aux, e.t)
		return
	}
	var l lref
	if slot >= 0 {
		l = lref{e.listener, s.at(slot)}
	} else {
		l = p.listenerFor(s, e.listener)
	}
	// A repeated event id is a duplicate; so is an event not newer than the listener's latest
	// when its session has ended: a client's retry of a batch that arrived after the leave
	// (within one second events keep Kafka order, so retries can interleave).
	if l.seen(e.fp) || l.flags&(fLive|fEnded) == fEnded && t <= l.last {
		m.Duplicates++
		return
	}
	l.remember(e.fp)
	if l.flags&fLive != 0 && int64(t) > int64(l.last)+p.tout {
		p.endSession(s, l, s.abs(l.last)+p.tout, true)
	}
	if l.flags&fLive != 0 {
		// A play (or audio) at or after the deadline is a late start: check before applying it.
		p.checkStartFailure(s, l, e.begins())
	}
	switch e.typ {
	case event.TypeJoin:
		m.Joins++
		if l.flags&fLive == 0 {
			p.startSession(s, l, e.t)
		}
	case event.TypeLeave:
		m.Leaves++
		if l.flags&fLive != 0 {
			l.last = max(l.last, t)
			p.endSession(s, l, e.t, false)
		}
		return
	default:
		if l.flags&fLive == 0 {
			p.startSession(s, l, e.begins())
		}
		switch e.typ {
		case event.TypePlay:
			m.Plays++
			l.flags |= fPlayed
		case event.TypeError:
			m.AddError(p.syms.name(uint32(e.aux)))
		case event.TypeHeartbeat:
			m.StalledMS += e.aux
			p.audio(s, l, e.t, int64(e.played), e.flags&event.FlagMuted != 0)
		}
	}
	l.last = max(l.last, t)
}

func (p *Partition) listenerFor(s *stream, key uint64) lref {
	if i, ok := s.index[key]; ok {
		return lref{key, s.at(i)}
	}
	var i int32
	if n := len(s.free); n > 0 {
		i, s.free = s.free[n-1], s.free[:n-1]
	} else {
		i = s.used
		s.used++
		if int(i>>pageBits) == len(s.pages) {
			s.pages = append(s.pages, make([]listener, 1<<pageBits))
		}
	}
	*s.at(i) = listener{}
	s.index[key] = i
	return lref{key, s.at(i)}
}

func (s *stream) at(i int32) *listener { return &s.pages[i>>pageBits][i&(1<<pageBits-1)] }

func (l *listener) seen(fp uint32) bool {
	return fp != 0 && (l.fps[0] == fp || l.fps[1] == fp || l.fps[2] == fp)
}

func (l *listener) remember(fp uint32) {
	slot := l.flags >> 14
	l.fps[slot] = fp
	l.flags = l.flags&(1<<14-1) | (slot+1)%3<<14
}

func (p *Partition) startSession(s *stream, l lref, t int64) {
	r, _ := s.rel(t)
	l.start, l.last = r, r
	l.sPlayed = 0
	l.flags = l.flags&^(fPlayed|fFailCounted|fQualified) | fLive
	// Connected from its first moment, even if the session is shorter than a second.
	if m := p.minute(s, t); m != nil {
		m.Connected.Insert(l.key)
		p.mark(s, m, l.key, window.FlagConnected, 0)
	}
}

// endSession applies the rest of the session up to end and closes it.
func (p *Partition) endSession(s *stream, l lref, end int64, timeout bool) {
	p.connect(s, l, end)
	m := p.minute(s, end)
	if m != nil && timeout {
		m.Timeouts++
	}
	if l.flags&(fPlayed|fFailCounted) == 0 && m != nil {
		m.StartFailures++ // ended before it ever played
	}
	l.flags = l.flags&^(fLive|fPlayed|fFailCounted|fQualified) | fEnded
	l.sPlayed = 0
}

// connect applies the session's connected time not yet applied, from max(start, closedTo), up
// to `to` to every minute it overlaps: distinct sets and per-second counts.
func (p *Partition) connect(s *stream, l lref, to int64) {
	from := max(s.abs(l.start), p.closedTo)
	for start := window.MinuteOf(from); start < to; start += window.MinuteMS {
		m := p.minute(s, start)
		if m == nil {
			continue
		}
		m.Connected.Insert(l.key)
		p.mark(s, m, l.key, window.FlagConnected, 0)
		m.AddSeconds(&m.ConnDiff, max(from, start), min(to, start+window.MinuteMS))
	}
}

// audio applies a heartbeat's played_ms, covering [t − played, t).
func (p *Partition) audio(s *stream, l lref, t, played int64, muted bool) {
	if played <= 0 {
		return
	}
	l.flags |= fPlayed // audio was rendered: the session started, muted or not
	from := t - played
	for start := window.MinuteOf(from); start < t; start += window.MinuteMS {
		lo, hi := max(from, start), min(t, start+window.MinuteMS)
		m := p.minute(s, start)
		if m == nil {
			continue
		}
		if muted {
			m.MutedMS += uint64(hi - lo)
			continue
		}
		m.PlayedMS += uint64(hi - lo)
		p.accumulate(s, l, start, uint32(hi-lo))
	}
	if muted {
		return
	}
	// Per-second hearing, trimmed so overlapping reports of one listener count once.
	if a := max(from, s.abs(l.audEnd)); a < t {
		for start := window.MinuteOf(a); start < t; start += window.MinuteMS {
			if m := p.minute(s, start); m != nil {
				m.AddSeconds(&m.HearDiff, max(a, start), min(t, start+window.MinuteMS))
			}
		}
		l.audEnd, _ = s.rel(t)
	}
	l.sPlayed += uint32(played)
	if l.flags&fQualified == 0 && int64(l.sPlayed) >= p.qual {
		l.flags |= fQualified
		if m := p.minute(s, t); m != nil {
			m.Qualified++
			m.QualifiedSet.Insert(l.key)
			p.mark(s, m, l.key, window.FlagQualified, 0)
		}
	}
}

// accumulate adds unmuted ms in the minute starting at `start` to the listener's minute and
// quarter accumulators, finalizing earlier ones as the listener moves on.
func (p *Partition) accumulate(s *stream, l lref, start int64, ms uint32) {
	r, ok := s.rel(start)
	if !ok {
		return
	}
	has := l.flags&fHasMinute != 0
	if has && r < l.minute {
		return // an earlier minute than the listener's current one: counters only
	}
	if !has || r > l.minute {
		sameQuarter := has && window.QuarterOf(start) == window.QuarterOf(s.abs(l.minute))
		if has {
			p.finalizeMinute(s, l)
			if !sameQuarter {
				p.finalizeQuarter(s, l)
			}
		}
		if !sameQuarter {
			l.qPlayed = 0
			l.flags &^= fQuarterDone
		}
		l.minute, l.minPlayed = r, 0
		l.flags = l.flags&^fMinuteFinal | fHasMinute
	}
	if l.flags&fMinuteFinal == 0 {
		l.minPlayed += uint16(ms)
	}
	if l.flags&fQuarterDone == 0 {
		l.qPlayed += ms
	}
}

func (p *Partition) finalizeMinute(s *stream, l lref) {
	if l.flags&(fHasMinute|fMinuteFinal) != fHasMinute {
		return
	}
	l.flags |= fMinuteFinal
	m := p.minute(s, s.abs(l.minute))
	if m == nil {
		return
	}
	var flags uint8
	if int64(l.minPlayed) >= p.hearMin {
		m.Hearing.Insert(l.key)
		flags = window.FlagHearing
	}
	p.mark(s, m, l.key, flags, uint32(l.minPlayed))
	if m.Closed {
		m.Dirty = true
	}
}

func (p *Partition) finalizeQuarter(s *stream, l lref) {
	if l.flags&(fHasMinute|fQuarterDone) != fHasMinute {
		return
	}
	l.flags |= fQuarterDone
	if int64(l.qPlayed) >= p.aqhMin {
		q := window.QuarterOf(s.abs(l.minute))
		s.quarters[q]++
		s.qDirty[q] = true
	}
}

func (p *Partition) checkStartFailure(s *stream, l lref, now int64) {
	if l.flags&(fLive|fPlayed|fFailCounted) != fLive {
		return
	}
	deadline := s.abs(l.start) + p.failAfter
	if now < deadline {
		return
	}
	l.flags |= fFailCounted
	if m := p.minute(s, deadline); m != nil {
		m.StartFailures++
	}
}

// closeMinute closes the minute starting at `start` for every stream: live sessions are
// applied up to its end (or expire inside it), listeners' minute and quarter accumulators are
// finalized, and the minute is queued for the sink.
func (p *Partition) closeMinute(start int64) {
	end := start + window.MinuteMS
	quarterEnds := end%window.QuarterMS == 0
	for _, s := range p.streams {
		if quarterEnds {
			// Every quarter hour the stream had a minute in gets a row, zero AQH persons included.
			if q := window.QuarterOf(start); s.hasQuarter(q) {
				s.qDirty[q] = true
			}
		}
		if len(s.index) == 0 && s.minutes[start] == nil {
			continue
		}
		live := 0
		for key, i := range s.index {
			l := lref{key, s.at(i)}
			if l.flags&fLive != 0 {
				if exp := s.abs(l.last) + p.tout; exp <= end {
					p.endSession(s, l, exp, true)
				} else {
					p.connect(s, l, end)
					p.checkStartFailure(s, l, end)
					live++
				}
			}
			if l.flags&fHasMinute != 0 && s.abs(l.minute) <= start {
				p.finalizeMinute(s, l)
				if quarterEnds || window.QuarterOf(s.abs(l.minute)) < window.QuarterOf(start) {
					p.finalizeQuarter(s, l)
				}
			}
			done := l.flags&fHasMinute == 0 || l.flags&(fMinuteFinal|fQuarterDone) == fMinuteFinal|fQuarterDone
			if l.flags&fLive == 0 && done {
				delete(s.index, key)
				s.free = append(s.free, i)
			}
		}
		if m := s.minutes[start]; m != nil || live > 0 {
			if m == nil {
				m = p.minute(s, start)
			}
			m.Closed, m.Dirty = true, true
			m.ClosedAt = time.Now()
			if q := window.QuarterOf(start); !s.hasQuarter(q) {
				s.quarters[q] = 0
				if quarterEnds {
					s.qDirty[q] = true
				}
			}
		}
	}
	p.collect(false)
}

// collect moves dirty minutes and quarters to the output and forgets what is past retention.
// With all, open minutes are emitted too (graceful shutdown).
func (p *Partition) collect(all bool) {
	for _, s := range p.streams {
		for start, m := range s.minutes {
			if m.Dirty || all && !m.Closed {
				p.out.Minutes = append(p.out.Minutes, m)
				m.Dirty = false
			}
			if m.Closed && start < p.closedTo-p.retention {
				delete(s.minutes, start)
				if s.lastMinute == m {
					s.lastMinute = nil
				}
			}
		}
		for q := range s.qDirty {
			p.out.Quarters = append(p.out.Quarters, QuarterCount{Stream: s.id, Start: q, AQHPersons: s.quarters[q]})
			delete(s.qDirty, q)
		}
		for q := range s.quarters {
			if q+window.QuarterMS < p.closedTo-p.retention {
				delete(s.quarters, q)
			}
		}
		if len(s.index) == 0 && len(s.minutes) == 0 && len(s.quarters) == 0 && len(s.qDirty) == 0 {
			delete(p.streams, s.id)
			p.symStreams[s.sym] = nil
			if p.last == s {
				p.last = nil
			}
		}
	}
}

// applyLate applies an event that arrived after P passed it: a correction to its minute's
// counters and distinct sets (the minute is re-emitted with a higher version). Sessions are
// not changed: they have moved on.
func (p *Partition) applyLate(e *ev) {
	s := p.streamOf(e)
	m := p.minute(s, e.t)
	if m == nil {
		if cur := p.minute(s, p.processed); cur != nil {
			cur.TooLate++
		}
		p.drop("too_late")
		return
	}
	if m.Closed {
		m.Dirty = true
	}
	m.Late++
	if e.typ == event.TypeDisplayed {
		m.Displayed(e.aux, e.t)
		return
	}
	if i, ok := s.index[e.listener]; ok {
		l := s.at(i)
		if l.seen(e.fp) {
			m.Duplicates++
			return
		}
		l.remember(e.fp)
	}
	m.Connected.Insert(e.listener)
	p.mark(s, m, e.listener, window.FlagConnected, 0)
	switch e.typ {
	case event.TypeJoin:
		m.Joins++
	case event.TypeLeave:
		m.Leaves++
	case event.TypePlay:
		m.Plays++
	case event.TypeError:
		m.AddError(p.syms.name(uint32(e.aux)))
	case event.TypeHeartbeat:
		m.StalledMS += e.aux
		if e.flags&event.FlagMuted != 0 {
			m.MutedMS += uint64(e.played)
		} else {
			m.PlayedMS += uint64(e.played)
			p.mark(s, m, e.listener, 0, e.played)
		}
	}
}

// mark emits a listener_minutes row: what one listener did in minute m. A listener may get
// several rows for one minute (connected at the close, hearing when its minute is final);
// the distinct states they feed do not mind.
func (p *Partition) mark(s *stream, m *window.Minute, listener uint64, flags uint8, playedMS uint32) {
	if p.out.Listeners.Rows == nil {
		p.out.Listeners.Rows, p.spare = p.spare, nil
	}
	p.out.Listeners.Rows = append(p.out.Listeners.Rows, window.ListenerRow{Stream: s.sym, Minute: m.Start,
		Listener: listener, Flags: flags, PlayedMS: playedMS})
}

// Recycle hands back the listener rows of an Output the caller is done with (written), so
// the next outputs reuse their storage instead of allocating.
func (p *Partition) Recycle(o Output) {
	if cap(o.Listeners.Rows) > cap(p.spare) {
		p.spare = o.Listeners.Rows[:0]
	}
}

// TakeOutput returns what was emitted since the last call, corrections included.
func (p *Partition) TakeOutput() Output {
	p.collect(false)
	o := p.out
	o.Listeners.Streams = p.syms.names // append-only: this view stays valid
	p.out = Output{}
	return o
}

// EmitOpen queues every open minute too (their rows are superseded when they close): for
// graceful shutdown and hand-over.
func (p *Partition) EmitOpen() { p.collect(true) }

// reorder buffers events by event time until processing time passes them: one bucket per
// second of event time, released whole, in order, each second sorted by time (a stable
// counting sort: Kafka order among equal times), so release order is deterministic for a
// replay. Buckets live in a ring indexed by second (no map on the hot path); seconds too far
// ahead for the ring wait in an overflow map.
type reorder struct {
	order  []int32   // sortSecond's output, reused
	counts [1001]int // sortSecond's counters, reused
	ring   [ringSize]bucket
	over   map[int64][]ev
	free   [][]ev // emptied buckets' storage, reused: the ring keeps only live seconds' memory
	minSec int64  // no event is buffered before this second
	n      int
}

// ringSize covers the lateness (35 s) plus the seconds in flight, with room to spare.
const ringSize = 128

type bucket struct {
	sec      int64
	evs      []ev
	unsorted bool // an event arrived before an earlier-timed one of the same second
}

func (r *reorder) push(e ev) {
	sec := floorDiv(e.t, 1000)
	if r.n == 0 {
		r.minSec = sec
	}
	if sec < r.minSec {
		// Only before the first release can an event precede minSec; move the window down
		// if the ring allows, else park the event in the overflow map.
		r.minSec = sec
	}
	r.n++
	b := &r.ring[sec&(ringSize-1)]
	if len(b.evs) == 0 {
		b.sec = sec
		if b.evs == nil {
			if k := len(r.free); k > 0 {
				b.evs, r.free = r.free[k-1], r.free[:k-1]
			}
		}
	}
	if b.sec == sec {
		if n := len(b.evs); n > 0 && b.evs[n-1].t > e.t {
			b.unsorted = true
		}
		b.evs = append(b.evs, e)
		return
	}
	if r.over == nil {
		r.over = map[int64][]ev{}
	}
	r.over[sec] = append(r.over[sec], e)
}

// popBefore hands f the buffered events of every second before `sec`, a second at a time in
// order, with the order to apply them in (nil: as they are), and forgets them.
func (r *reorder) popBefore(sec int64, f func([]ev, []int32)) {
	if r.n == 0 || sec <= r.minSec {
		return
	}
	// With overflow, or after a jump far past the ring, walk the seconds that hold events.
	if len(r.over) > 0 || sec-r.minSec > ringSize {
		secs := make([]int64, 0, ringSize)
		for i := range r.ring {
			if b := &r.ring[i]; len(b.evs) > 0 && b.sec < sec {
				secs = append(secs, b.sec)
			}
		}
		for s := range r.over {
			if s < sec {
				secs = append(secs, s)
			}
		}
		slices.Sort(secs)
		secs = slices.Compact(secs)
		for _, s := range secs {
			r.popSecond(s, f)
		}
	} else {
		for s := r.minSec; s < sec; s++ {
			r.popSecond(s, f)
		}
	}
	r.minSec = sec
}

// sortSecond returns the order of one second's events by time, stable (Kafka order among equal
// times): a counting sort on the millisecond over indexes, two linear passes, where a comparison
// sort of the 40-byte events would cost more than the rest of the hot path. The result is valid
// until the next call.
func (r *reorder) sortSecond(evs []ev) []int32 {
	clear(r.counts[:])
	for i := range evs {
		r.counts[floorMod(evs[i].t, 1000)+1]++
	}
	for i := 1; i < len(r.counts); i++ {
		r.counts[i] += r.counts[i-1]
	}
	r.order = slices.Grow(r.order[:0], len(evs))[:len(evs)]
	for i := range evs {
		ms := floorMod(evs[i].t, 1000)
		r.order[r.counts[ms]] = int32(i)
		r.counts[ms]++
	}
	return r.order
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func (r *reorder) popSecond(sec int64, f func([]ev, []int32)) {
	if b := &r.ring[sec&(ringSize-1)]; len(b.evs) > 0 && b.sec == sec {
		if b.unsorted {
			f(b.evs, r.sortSecond(b.evs))
			b.unsorted = false
		} else {
			f(b.evs, nil)
		}
		r.n -= len(b.evs)
		r.free = append(r.free, b.evs[:0])
		b.evs = nil
	}
	if evs, ok := r.over[sec]; ok {
		f(evs, r.sortSecond(evs))
		r.n -= len(evs)
		delete(r.over, sec)
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func eventType(b uint8) event.Type { return event.Type(b) }

// MaxEvent is the largest event time seen (unix ms).
func (p *Partition) MaxEvent() int64 { return p.maxEvent }
