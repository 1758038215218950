// Package session turns one Kafka partition's event records into audience figures that depend
// on the set of distinct events alone — not on their arrival order, delay, copies or pauses
// (SPEC, "Time, late events and duplicates"; docs/time.md).
//
//   - config.go: thresholds and the time model's durations;
//   - rules.go: the SPEC's rules as a machine over one listener's events in a fixed order;
//   - table.go, log.go: per listener its machine state, its events inside the correction
//     horizon (a packed log) and its minute bits;
//   - rederive.go: an event that arrives out of order is put in its place and its listener
//     derived again (old contribution subtracted, new one added);
//   - stream.go: per stream a clock, and what moves with it: minutes closing (provisional rows)
//     and becoming final, listeners folding their logs, streams closing;
//   - partition.go (this file): records in, rows out;
//   - checkpoint.go: the whole state at an offset.
package session

import (
	"fmt"
	"slices"
	"time"

	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// Partition is the state of one Kafka partition. Not safe for concurrent use: one worker owns it.
type Partition struct {
	cfg Config
	id  uint16
	// thresholds in ms
	tout, hearMin, qual, aqhMin, failAfter, lookback, horizon, replayIdle int64
	ring                                                                  ring

	streams map[string]*stream
	// tombs are streams forgotten early (silent live streams): their clocks and listeners'
	// first tickets, kept until forgetAfter, so that forgetting changes no figure.
	tombs    map[string]*tomb
	prunedAt int64   // ingest clock when tombs were last pruned
	last     *stream // the stream of the previous record: most records continue it
	// names are the streams' ids by symbol (listener rows refer to them); the symbols of
	// forgotten streams are reused.
	names     []string
	freeNames []uint32
	now       func() time.Time // the wall clock, for check's sanity cap only
	// wallMS is the wall clock (unix ms) as last read: check reads it again only for a record
	// the value at hand would refuse, since the clock only moves on (reading it for every record
	// was 2.5 % of the aggregator's CPU at full size).
	wallMS int64
	// ingest is the partition's ingest clock: the newest collector time seen (ticks and
	// records), unix ms. It moves only while ingest works.
	ingest int64
	// Offset is the last Kafka offset folded in; rows carry it in their version.
	Offset int64
	seq    uint64 // listener rows emitted at Offset
	// Dropped counts records that could not be applied, by reason.
	Dropped map[string]uint64
	// LastPanic describes the last record that hit a bug (counted in Dropped["panic"]).
	LastPanic string
	// SetsBuilt counts minutes whose distinct sets were built from the listeners' minute bits
	// to be written.
	SetsBuilt uint64

	out      Output
	refused  []Refused            // since the last TakeRefused
	spare    []window.ListenerRow // recycled listener-row storage
	hints    []int32              // AddBatch's slots
	touch    uint8                // keeps AddBatch's prefetching reads alive
	scr      scratch
	emitOpen bool
	// closed: a minute closed since the last TakeOutput (Closed).
	closed bool
}

// Output is what a Partition emitted since the last TakeOutput.
type Output struct {
	// Minutes to write (render with window.Minute.Row before the next Add).
	Minutes   []*window.Minute
	Quarters  []QuarterCount
	Listeners window.ListenerRows
	Delivery  []Delivery
	Clocks    []Clock
}

// Refused is a record the partition could not apply as an event: not a late or duplicate one
// (those are figures' business) but one that is wrong in itself — impossible times, an unknown
// type, an end from an untrusted token — or that hit a bug. It goes to the dead-letter table
// with its offset, so that it can be examined and replayed, and the partition moves on.
type Refused struct {
	Offset         int64
	Reason, Detail string
}

// QuarterCount is one stream's AQH persons for one quarter hour in this partition.
type QuarterCount struct {
	Stream         string
	Start          int64
	AQHPersons     uint64
	Final, Deleted bool
}

// Delivery counts how one stream's events arrived while its clock was in one minute.
type Delivery struct {
	Stream                    string
	Minute                    int64
	Late, Duplicates, TooLate uint64
}

// Clock says how far this partition has come with one stream (unix ms).
type Clock struct {
	Stream                   string
	Clock, ClosedTo, FinalTo int64
	Closed                   bool
}

// New returns an empty partition state.
func New(cfg Config, partition uint16) *Partition {
	ms := func(d interface{ Milliseconds() int64 }) int64 { return d.Milliseconds() }
	return &Partition{
		cfg: cfg, id: partition,
		tout: ms(cfg.SessionTimeout), hearMin: ms(cfg.HearingMin), qual: ms(cfg.Qualified), aqhMin: ms(cfg.AQHMin),
		failAfter: ms(cfg.StartFailureAfter), lookback: ms(cfg.Lookback), horizon: ms(cfg.Horizon),
		replayIdle: ms(cfg.ReplayIdle), ring: newRing(int(cfg.Horizon.Minutes())),
		streams: map[string]*stream{}, Dropped: map[string]uint64{}, Offset: -1, now: time.Now,
	}
}

// ID is the partition number.
func (p *Partition) ID() uint16 { return p.id }

// Ingest is the partition's ingest clock (unix ms): the newest collector time it has seen.
func (p *Partition) Ingest() int64 { return p.ingest }

// Add folds one record at Kafka offset into the state. The record's byte slices may be reused
// by the caller afterwards.
func (p *Partition) Add(r *event.Record, offset int64) { p.add(r, offset, -1) }

// AddBatch folds recs, at offsets, in order: the same as calling Add for each, faster. It first
// looks every listener up in a tight loop, which lets the processor overlap the cache misses
// of a large table (one lookup per event is most of the hot path's time), then applies them.
func (p *Partition) AddBatch(recs []event.Record, offsets []int64) {
	hints := p.hints[:0]
	var touch uint8
	s := p.last
	for i := range recs {
		r := &recs[i]
		h := int32(-1)
		if !r.Type.Control() && r.Type != event.TypeDisplayed {
			if s == nil || s.id != string(r.StreamID) {
				s = p.streams[string(r.StreamID)]
			}
			if s != nil {
				if h = s.tab.lookup(r.Listener); h >= 0 {
					touch += s.tab.at(h).head.flags // pull the slot's cache line in too
				}
			}
		}
		hints = append(hints, h)
	}
	p.touch, p.hints = touch, hints
	for i := range recs {
		p.add(&recs[i], offsets[i], hints[i])
	}
}

// Plausible record times. A record outside them is corrupt (a bug, a hostile producer) and is
// dropped before it touches any clock: one such record must not move a stream's or the
// partition's clock for good.
const (
	minTime = 946684800000  // 2000-01-01
	maxTime = 4102444800000 // 2100-01-01
	// futureSlack: how far ahead of this process's clock a collector time may be (clock skew
	// between machines) before the record is taken for corrupt. It is the only use of the
	// wall clock here, a sanity cap: valid records never come near it.
	futureSlack = int64(time.Hour / time.Millisecond)
	// aheadOfReceipt: how far after its receipt an event may be dated. Collectors reject
	// events more than max_skew (30 s) ahead of their clock, trusted or not.
	aheadOfReceipt = int64(time.Hour / time.Millisecond)
)

// check says why a record cannot be applied, or "".
func (p *Partition) check(r *event.Record) string {
	switch {
	case !r.Type.Valid():
		return "bad_type"
	case r.EventTime < minTime || r.EventTime > maxTime || r.ReceivedAt < minTime || r.ReceivedAt > maxTime:
		return "time_out_of_range"
	case r.ReceivedAt > p.wallMS+futureSlack && r.ReceivedAt > p.readWall()+futureSlack:
		return "received_in_future"
	case r.EventTime > r.ReceivedAt+aheadOfReceipt:
		return "time_out_of_range"
	case r.Type == event.TypeHeartbeat && (r.PlayedMS > event.MaxIntervalMS || r.StalledMS > event.MaxIntervalMS):
		return "bad_played_ms"
	case !r.Type.Control() || r.Type == event.TypeEnd:
		if len(r.StreamID) == 0 {
			return "no_stream"
		}
	}
	return ""
}

func (p *Partition) readWall() int64 {
	p.wallMS = p.now().UnixMilli()
	return p.wallMS
}

// add is Add with the listener's slot when known (hint ≥ 0; checked, since applying the records
// before it may have freed it). A panic — a bug — is counted and the record skipped: the same
// record would come back after a restart, and the partition must not crash-loop.
func (p *Partition) add(r *event.Record, offset int64, hint int32) {
	defer func() {
		if x := recover(); x != nil {
			p.LastPanic = fmt.Sprintf("offset %d: %v", offset, x)
			p.refuse(offset, "panic", fmt.Sprint(x))
		}
	}()
	p.Offset, p.seq = offset, 0
	if why := p.check(r); why != "" {
		p.refuse(offset, why, describe(r))
		return
	}
	p.ingest = max(p.ingest, r.ReceivedAt)
	switch r.Type {
	case event.TypeTick:
		p.tick()
		return
	case event.TypeEnd:
		if r.Flags&event.FlagTrustedTime == 0 {
			p.refuse(offset, "untrusted_end", describe(r)) // collectors write ends for trusted tokens only
			return
		}
		p.closeStream(p.streamFor(r.StreamID, r.EventTime))
		return
	}
	s := p.last
	if s == nil || s.id != string(r.StreamID) {
		s = p.streamFor(r.StreamID, r.EventTime)
		p.last = s
	}
	// A collector-timed event makes the stream live (its clock is the ingest clock) before it
	// is judged: judged by a new stream's own clock, an event received after the ingest clock
	// had passed its horizon would be applied into minutes the ingest clock then finalises.
	if r.Flags&event.FlagTrustedTime == 0 {
		s.live = true
	}
	begins := r.EventTime - int64(r.PlayedMS)
	if s.closed || begins < s.clock(p.ingest)-p.horizon || begins < s.finalTo {
		// Beyond the horizon (and so never the event that moves the clock).
		p.delivered(s, 0, 0, 1)
		p.drop("too_late")
		return
	}
	s.lastArrival = max(s.lastArrival, r.ReceivedAt)
	s.data = max(s.data, r.EventTime)
	// Close and finalise what the event's time passed before applying it, so that it lands in
	// a minute the listeners' bits cover.
	p.advance(s)
	p.event(s, r, hint, begins)
}

// event applies one listener or platform event of stream s, which begins at `begins` (unix ms).
func (p *Partition) event(s *stream, r *event.Record, hint int32, begins int64) {
	e := ev{played: r.PlayedMS, stalled: r.StalledMS, typ: r.Type, muted: r.Flags&event.FlagMuted != 0,
		fp: uint8(r.Fingerprint) &^ repeatBit}
	t, ok := s.rel(r.EventTime)
	if !ok || begins < s.base {
		p.drop("time_out_of_range")
		return
	}
	e.t, e.b = t, t-e.played
	if r.Type == event.TypeDisplayed {
		m := p.minute(s, window.MinuteOf(r.EventTime))
		m.Displayed(r.DisplayedCount, r.EventTime)
		m.Dirty = true
		if begins < s.closedTo {
			p.delivered(s, 1, 0, 0)
		}
		return
	}
	if r.Type == event.TypeError {
		e.code = s.codes.intern(r.ErrorCode)
	}
	i := hint
	if i < 0 || !s.tab.holds(i, r.Listener) {
		if i = s.tab.lookup(r.Listener); i < 0 {
			i = p.newListener(s, r.Listener)
		}
	}
	sl := s.tab.at(i)
	if tl := &sl.tail; e.b >= sl.head.pos && (tl.n == 0 || e.b > tl.b || e.b == tl.b && e.t > tl.t) {
		// In order for this listener: apply it, then bring the listener to where its stream
		// has closed minutes, as the other listeners are.
		d := deriv{p: p, s: s, key: sl.key, slot: i, sign: 1, bits: bitsApply}
		d.moveTo(&sl.head, e.b)
		d.apply(&sl.head, &e)
		if to := p.rel(s, s.closedTo); to > sl.head.pos {
			d.moveTo(&sl.head, to)
		}
		log := s.tab.log(i)
		if len(*log)+maxEntry > cap(*log) {
			// Grow by a quarter, not Go's doubling; folding gives back the slack: logs are
			// most of the memory, and they grow slowly (a byte per heartbeat) to a size set by
			// the horizon.
			grown := make([]byte, len(*log), len(*log)+max(len(*log)/4, 64))
			copy(grown, *log)
			*log = grown
		}
		*log = appendEv(*log, tl, &e)
	} else if !p.insert(s, i, e) {
		// A copy. If it carries a ticket its listener is authenticated by it, whichever copy
		// came first: an event is authenticated when any of its copies is.
		if r.Flags&event.FlagAuthenticated != 0 {
			p.authenticate(s, i, r.EventTime)
		}
		p.delivered(s, 0, 1, 0)
		return
	}
	if r.Flags&event.FlagAuthenticated != 0 {
		p.authenticate(s, i, r.EventTime)
	}
	if begins < s.closedTo {
		p.delivered(s, 1, 0, 0)
	}
}

// authenticate records that listener i sent an event carrying a valid listener ticket at t
// (unix ms). A listener is authenticated in a minute when such an event is dated before the
// minute's end. Which minutes those are depends on the events alone: an event dated before a
// minute's end cannot be applied once the minute is final (it would begin too late), so no
// delivery can add the flag to a final row. The rows emitted for minutes the listener now
// covers are emitted again with the flag.
func (p *Partition) authenticate(s *stream, i int32, t int64) {
	key := s.tab.at(i).key
	old, had := s.auth[key]
	if had && old <= t {
		return
	}
	if s.auth == nil {
		s.auth = map[uint64]int64{}
	}
	s.auth[key] = t
	from := max(window.MinuteOf(t), s.finalTo)
	to := s.finalTo + int64(p.ring.minutes)*window.MinuteMS
	if had {
		to = min(to, window.MinuteOf(old))
	}
	bits := s.tab.bitsOf(p.ring, i)
	for m := from; m < to; m += window.MinuteMS {
		if f := p.ring.flagsAt(bits, m); f&window.FlagConnected != 0 {
			p.listenerRow(s, m, key, f|window.FlagAuthenticated)
		}
	}
}

// rowFlags are listener i's flags in minute m (unix ms) for its row, given its bits there.
func (p *Partition) rowFlags(s *stream, i int32, m int64, flags uint8) uint8 {
	if len(s.auth) == 0 || flags&window.FlagConnected == 0 {
		return flags
	}
	if a, ok := s.auth[s.tab.at(i).key]; ok && a < m+window.MinuteMS {
		flags |= window.FlagAuthenticated
	}
	return flags
}

func (p *Partition) newListener(s *stream, key uint64) int32 {
	i := s.tab.add(p.ring, key)
	sl := s.tab.at(i)
	sl.fold.pos = p.rel(s, s.finalTo)
	sl.head, sl.logBase = sl.fold, sl.fold.pos
	sl.tail.t = sl.logBase // where the log's first entry counts from
	// A join, a play and a minute of heartbeats, without growing: most listeners start so.
	*s.tab.log(i) = make([]byte, 0, 32)
	return i
}

// corrupt forgets a listener whose log cannot be read (a bug): counted, never a crash loop.
func (p *Partition) corrupt(s *stream, i int32) {
	p.drop("corrupt_listener_state")
	*s.tab.log(i) = nil
	sl := s.tab.at(i)
	sl.tail = tail{t: sl.logBase}
}

func (p *Partition) drop(reason string) { p.Dropped[reason]++ }

// refuse drops the record at offset for a reason that makes it a dead letter.
func (p *Partition) refuse(offset int64, reason, detail string) {
	p.drop(reason)
	p.refused = append(p.refused, Refused{Offset: offset, Reason: reason, Detail: detail})
}

// describe says what a refused record claims, for the dead letter's detail. Times are printed as
// numbers: they may be anything.
func describe(r *event.Record) string {
	return fmt.Sprintf("type %d, flags %#x, stream %q, event time %d, received %d, played %d ms",
		r.Type, r.Flags, r.StreamID, r.EventTime, r.ReceivedAt, r.PlayedMS)
}

// rel is x (unix ms) relative to the stream's base, clamped into the uint32 range.
func (p *Partition) rel(s *stream, x int64) uint32 {
	return uint32(min(max(x-s.base, 0), 1<<32-1))
}

// minute returns the stream's minute starting at start (unix ms), creating it.
func (p *Partition) minute(s *stream, start int64) *window.Minute {
	if m := s.lastMinute; m != nil && m.Start == start {
		return m
	}
	if m, ok := s.minutes[start]; ok {
		s.lastMinute = m
		return m
	}
	if start < s.finalTo {
		// Nothing may change a final minute (docs/time.md): a bug. Counted; the contribution
		// goes to a minute nobody keeps.
		p.drop("bug_final_minute")
		return window.NewMinute(s.id, start)
	}
	m := window.NewMinute(s.id, start)
	m.Closed = start+window.MinuteMS <= s.closedTo
	s.minutes[start] = m
	s.lastMinute = m
	return m
}

// quarter returns the stream's quarter hour starting at start (unix ms), creating it.
func (p *Partition) quarter(s *stream, start int64) *quarter {
	q, ok := s.quarters[start]
	if !ok {
		if start+window.QuarterMS <= s.finalTo {
			p.drop("bug_final_quarter") // as in minute: a bug, counted, not kept
			return &quarter{}
		}
		q = &quarter{closed: start+window.QuarterMS <= s.closedTo}
		s.quarters[start] = q
	}
	return q
}

// setBit puts listener i (key) in the set of kind k of the minute at m (unix ms) unless it is
// there: the minute is due to be written again, and a listener row says so.
func (p *Partition) setBit(s *stream, i int32, key uint64, k int, m int64) {
	bits := s.tab.bitsOf(p.ring, i)
	w, b := p.ring.pos(k, m)
	if bits[w]&b != 0 {
		return
	}
	if m < s.finalTo || m >= s.finalTo+int64(p.ring.minutes)*window.MinuteMS {
		p.drop("bug_bit_outside_ring") // the ring covers every open minute: a bug
		return
	}
	bits[w] |= b
	p.minute(s, m).Dirty = true
	p.listenerRow(s, m, key, p.rowFlags(s, i, m, p.ring.flagsAt(bits, m)))
}

// listenerRow emits what listener key is in minute m. Its version orders every row of the
// partition: the offset, then the row's place among those emitted at that offset.
func (p *Partition) listenerRow(s *stream, m int64, key uint64, flags uint8) {
	if p.out.Listeners.Rows == nil {
		p.out.Listeners.Rows, p.spare = p.spare, nil
	}
	p.out.Listeners.Rows = append(p.out.Listeners.Rows, window.ListenerRow{Stream: s.sym, Minute: m,
		Listener: key, Flags: flags, Version: uint64(p.Offset+1)<<28 | p.seq})
	p.seq++
}

// symbols interns strings (a stream's error codes).
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

func (y *symbols) name(i uint32) string {
	if int(i) < len(y.names) {
		return y.names[i]
	}
	return ""
}

// nameStream gives a new stream its symbol, reusing a forgotten stream's.
func (p *Partition) nameStream(id string) uint32 {
	if n := len(p.freeNames); n > 0 {
		sym := p.freeNames[n-1]
		p.freeNames = p.freeNames[:n-1]
		p.names[sym] = id
		return sym
	}
	p.names = append(p.names, id)
	return uint32(len(p.names) - 1)
}

func (p *Partition) forgetStream(s *stream) {
	if p.ingest-max(s.lastArrival, s.closedAt) < forgetAfter {
		// Forgotten early, its clocks (and listeners' first tickets) stay in a tombstone until
		// the week is over: a stream made anew from it is the stream it would have been.
		if p.tombs == nil {
			p.tombs = map[string]*tomb{}
		}
		p.tombs[s.id] = &tomb{Live: s.live, Closed: s.closed, Data: s.data, LastArrival: s.lastArrival,
			ClosedAt: s.closedAt, ClosedTo: s.closedTo, FinalTo: s.finalTo, Auth: s.auth}
	}
	delete(p.streams, s.id)
	p.names[s.sym] = ""
	p.freeNames = append(p.freeNames, s.sym)
	if p.last == s {
		p.last = nil
	}
}

// Recycle hands back an Output the caller is done with (written): the next outputs reuse its
// listener rows' storage instead of allocating, and its minutes' distinct sets, built for their
// rows, are dropped (the listeners' minute bits hold them).
func (p *Partition) Recycle(o Output) {
	for _, m := range o.Minutes {
		m.ClearSets()
	}
	if cap(o.Listeners.Rows) > cap(p.spare) {
		p.spare = o.Listeners.Rows[:0]
	}
}

// TakeRefused returns the records refused since the last call (a dead letter each), and
// forgets them.
func (p *Partition) TakeRefused() []Refused {
	r := p.refused
	p.refused = p.refused[:0:0]
	return r
}

// TakeOutput returns what was emitted since the last call, corrections included.
func (p *Partition) TakeOutput() Output {
	p.collect()
	o := p.out
	p.closed = false
	// A copy: a forgotten stream's symbol is reused, and this output's rows must keep their names.
	o.Listeners.Streams = slices.Clone(p.names)
	p.out = Output{}
	return o
}

// EmitOpen has the next TakeOutput include minutes not closed yet (provisional, superseded when
// they close): for graceful shutdown and hand-over, so that nothing seen is invisible.
func (p *Partition) EmitOpen() { p.emitOpen = true }

// Closed reports whether a minute closed since the last TakeOutput: its rows are due, and the
// aggregator writes them at once rather than at its next periodic flush.
func (p *Partition) Closed() bool { return p.closed }
