package session

import (
	"bytes"
	"cmp"
	"encoding/gob"
	"fmt"
	"slices"

	"github.com/earshot/earshot/pkg/event"
	"github.com/earshot/earshot/pkg/window"
)

// A checkpoint is the whole partition state at Offset: the aggregator stores it next to the
// rows it wrote and commits Offset+1 to Kafka only after both, so a worker that takes the
// partition over (after a crash or a rebalance) resumes exactly there. Format: gob of the
// snapshot types below, prefixed by a version byte.
const checkpointVersion = 1

type snapshot struct {
	ID                            uint16
	MaxEvent, Processed, ClosedTo int64
	Offset                        int64
	Started                       bool
	Dropped                       map[string]uint64
	Streams                       []snapStream
	Buffer                        []snapEv
}

type snapStream struct {
	ID              string
	Base, LastEvent int64
	Listeners       []snapListener
	Minutes         []*window.Minute
	Quarters        map[int64]uint64
	QDirty          []int64
}

type snapListener struct {
	Key                         uint64
	Start, Last, AudEnd, Minute uint32
	QPlayed, SPlayed            uint32
	Fps                         [3]uint32
	MinPlayed, Flags            uint16
}

type snapEv struct {
	T, Listener, Aux uint64
	Fp, Played       uint32
	Stream, Code     string
	Typ, Flags       uint8
}

// MarshalBinary serializes the partition state. Output that was not taken is not included:
// take and write it first.
func (p *Partition) MarshalBinary() ([]byte, error) {
	snap := snapshot{ID: p.id, MaxEvent: p.maxEvent, Processed: p.processed, ClosedTo: p.closedTo, Offset: p.Offset,
		Started: p.started, Dropped: p.Dropped}
	ids := make([]string, 0, len(p.streams))
	for id := range p.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s := p.streams[id]
		ss := snapStream{ID: s.id, Base: s.base, LastEvent: s.lastEvent, Quarters: s.quarters}
		for key, i := range s.index {
			l := s.at(i)
			ss.Listeners = append(ss.Listeners, snapListener{Key: key, Start: l.start, Last: l.last,
				AudEnd: l.audEnd, Minute: l.minute, MinPlayed: l.minPlayed, QPlayed: l.qPlayed, SPlayed: l.sPlayed,
				Fps: l.fps, Flags: l.flags})
		}
		slices.SortFunc(ss.Listeners, func(a, b snapListener) int { return cmp.Compare(int64(a.Key>>1), int64(b.Key>>1)) })
		for _, m := range s.minutes {
			ss.Minutes = append(ss.Minutes, m)
		}
		slices.SortFunc(ss.Minutes, func(a, b *window.Minute) int { return cmp.Compare(a.Start, b.Start) })
		for q := range s.qDirty {
			ss.QDirty = append(ss.QDirty, q)
		}
		slices.Sort(ss.QDirty)
		snap.Streams = append(snap.Streams, ss)
	}
	for _, b := range p.buf.sortedAll() {
		se := snapEv{T: uint64(b.t), Listener: b.listener, Fp: b.fp, Played: b.played, Stream: p.syms.name(b.stream),
			Typ: uint8(b.typ), Flags: b.flags, Aux: b.aux}
		if b.typ == event.TypeError {
			se.Code, se.Aux = p.syms.name(uint32(b.aux)), 0
		}
		snap.Buffer = append(snap.Buffer, se)
	}
	var buf bytes.Buffer
	buf.WriteByte(checkpointVersion)
	if err := gob.NewEncoder(&buf).Encode(&snap); err != nil {
		return nil, fmt.Errorf("cannot encode checkpoint: %w", err)
	}
	return buf.Bytes(), nil
}

// Restore returns the partition state serialized by MarshalBinary.
func Restore(cfg Config, data []byte) (*Partition, error) {
	if len(data) == 0 || data[0] != checkpointVersion {
		return nil, fmt.Errorf("unknown checkpoint version")
	}
	var snap snapshot
	if err := gob.NewDecoder(bytes.NewReader(data[1:])).Decode(&snap); err != nil {
		return nil, fmt.Errorf("cannot decode checkpoint: %w", err)
	}
	p := New(cfg, snap.ID)
	p.maxEvent, p.processed, p.closedTo, p.Offset, p.started = snap.MaxEvent, snap.Processed, snap.ClosedTo, snap.Offset, snap.Started
	if snap.Dropped != nil {
		p.Dropped = snap.Dropped
	}
	for _, ss := range snap.Streams {
		s := &stream{id: ss.ID, sym: p.syms.intern([]byte(ss.ID)), base: ss.Base, lastEvent: ss.LastEvent, index: make(map[uint64]int32, len(ss.Listeners)),
			minutes: map[int64]*window.Minute{}, quarters: ss.Quarters, qDirty: map[int64]bool{}}
		if s.quarters == nil {
			s.quarters = map[int64]uint64{}
		}
		for _, l := range ss.Listeners {
			*p.listenerFor(s, l.Key).listener = listener{start: l.Start, last: l.Last, audEnd: l.AudEnd,
				minute: l.Minute, minPlayed: l.MinPlayed, qPlayed: l.QPlayed, sPlayed: l.SPlayed, fps: l.Fps, flags: l.Flags}
		}
		for _, m := range ss.Minutes {
			s.minutes[m.Start] = m
		}
		for _, q := range ss.QDirty {
			s.qDirty[q] = true
		}
		p.streams[s.id] = s
		p.setSym(s)
	}
	for _, b := range snap.Buffer {
		e := ev{t: int64(b.T), listener: b.Listener, aux: b.Aux, fp: b.Fp, played: b.Played,
			stream: p.syms.intern([]byte(b.Stream)), typ: eventType(b.Typ), flags: b.Flags}
		if e.typ == event.TypeError {
			e.aux = uint64(p.syms.intern([]byte(b.Code)))
		}
		p.buf.push(e)
	}
	return p, nil
}

// sortedAll returns every buffered event in release order, leaving the buffer as it was.
func (r *reorder) sortedAll() []ev {
	var secs []int64
	for i := range r.ring {
		if b := &r.ring[i]; len(b.evs) > 0 {
			secs = append(secs, b.sec)
		}
	}
	for s := range r.over {
		secs = append(secs, s)
	}
	slices.Sort(secs)
	secs = slices.Compact(secs)
	var out []ev
	for _, sec := range secs {
		if b := &r.ring[sec&(ringSize-1)]; len(b.evs) > 0 && b.sec == sec {
			out = append(out, b.evs...)
		}
		out = append(out, r.over[sec]...)
	}
	// Kafka order within each second is kept: restoring pushes them in this order and the
	// release sorts them by time as it would have.
	return out
}
