package session

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/earshot/earshot/internal/window"
)

// A checkpoint is the whole partition state at Offset: the aggregator stores it next to the
// rows it wrote and commits Offset+1 to Kafka only after both, so a worker that takes the
// partition over (after a crash or a rebalance) resumes exactly there.
//
// Format 2: a version byte, then gob of the snapshot types below; each stream's listeners are
// one packed blob (listenerBlob), since gob would spend more on a million small structs than
// the rest of the state together. Format 1 (the event-time buffer of earlier releases) cannot be
// restored: its state did not keep what re-deriving a listener needs.
//
// Format 3: heartbeat audio is trimmed (played_trimmed_ms), so a format-2 state's minutes hold
// untrimmed contributions that a re-derivation would take back trimmed; it cannot be restored.
// Streams forgotten early are kept as tombstones.
//
// Format 4 (this release) holds what format 3 does, laid out to be written as a stream
// (WriteCheckpoint) so that a checkpoint is never whole in the aggregator's memory — at 1.3M
// listeners a partition's state is ~23 MiB, and format 3 held it three times over (the
// listeners' blob, gob's copy of it, the ClickHouse column): the version byte, the length of
// the snapshot's gob (uvarint), the gob of the snapshot without its listeners, then every
// stream's listeners in the snapshot's order as listenerBlob packs them. Formats 3 and 4
// restore.
const (
	checkpointVersion   = 4
	oldestRestorable    = 3
	maxCheckpointHeader = 1 << 30
)

// ErrOldCheckpoint: the checkpoint was written by a release with another state format.
var ErrOldCheckpoint = errors.New("checkpoint of an older release (format 1 or 2, derived by other rules): reset the consumer group's checkpoints and replay the topic")

type snapshot struct {
	ID      uint16
	Ingest  int64
	Offset  int64
	Dropped map[string]uint64
	Streams []snapStream
	// Horizon (ms) the state was built with: logs and final minutes depend on it.
	Horizon int64
	// Tombs: streams forgotten early (format 3).
	Tombs map[string]*tomb
}

type snapStream struct {
	ID                          string
	Codes                       []string
	Base                        int64
	Live, Closed, ClockDirty    bool
	Data, LastArrival, ClosedAt int64
	ClosedTo, FinalTo           int64
	Listeners                   []byte
	Minutes                     []*window.Minute
	Quarters                    []snapQuarter
	DelivMinute                 int64
	Late, Duplicates, TooLate   uint64
	DelivDirty                  bool
	ListenerCount               int
	// Auth: listeners' first authenticated event (absent in checkpoints of earlier releases,
	// which had none).
	Auth map[uint64]int64
}

type snapQuarter struct {
	Start                         int64
	AQH                           int64
	Closed, Final, Dirty, Emitted bool
}

// MarshalBinary serializes the partition state (WriteCheckpoint into memory).
func (p *Partition) MarshalBinary() ([]byte, error) {
	var buf bytes.Buffer
	if err := p.WriteCheckpoint(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteCheckpoint writes the partition state to w (format 4), a listener at a time. Output that
// was not taken is not included: take and write it first. The state must not change until it
// returns.
func (p *Partition) WriteCheckpoint(w io.Writer) error {
	snap := snapshot{ID: p.id, Ingest: p.ingest, Offset: p.Offset, Dropped: p.Dropped, Horizon: p.horizon, Tombs: p.tombs}
	ids := make([]string, 0, len(p.streams))
	for id := range p.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s := p.streams[id]
		ss := snapStream{ID: s.id, Codes: s.codes.names, Base: s.base, Live: s.live, Closed: s.closed, ClockDirty: s.clockDirty,
			Data: s.data, LastArrival: s.lastArrival, ClosedAt: s.closedAt, ClosedTo: s.closedTo, FinalTo: s.finalTo,
			DelivMinute: s.deliv.minute, Late: s.deliv.late, Duplicates: s.deliv.duplicates, TooLate: s.deliv.tooLate,
			DelivDirty: s.deliv.dirty, ListenerCount: s.tab.live, Auth: s.auth}
		for _, start := range sortedStarts(s.minutes) {
			ss.Minutes = append(ss.Minutes, s.minutes[start])
		}
		for _, start := range sortedStarts(s.quarters) {
			q := s.quarters[start]
			ss.Quarters = append(ss.Quarters, snapQuarter{Start: start, AQH: q.aqh, Closed: q.closed, Final: q.final, Dirty: q.dirty, Emitted: q.emitted})
		}
		snap.Streams = append(snap.Streams, ss)
	}
	var hdr bytes.Buffer
	if err := gob.NewEncoder(&hdr).Encode(&snap); err != nil {
		return fmt.Errorf("cannot encode checkpoint: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteByte(checkpointVersion)
	bw.Write(binary.AppendUvarint(nil, uint64(hdr.Len())))
	bw.Write(hdr.Bytes())
	var rec []byte
	for _, id := range ids {
		s := p.streams[id]
		s.tab.each(func(i int32, sl *slot) {
			rec = p.appendListener(rec[:0], s, i, sl)
			bw.Write(rec) // an error sticks: Flush reports it
		})
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cannot write checkpoint: %w", err)
	}
	return nil
}

func sortedStarts[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// appendListener packs one listener: its key, states, tail, bits and log.
func (p *Partition) appendListener(out []byte, s *stream, i int32, sl *slot) []byte {
	out = binary.LittleEndian.AppendUint64(out, sl.key)
	out = appendState(out, &sl.head)
	out = appendState(out, &sl.fold)
	out = binary.LittleEndian.AppendUint16(out, sl.foldQual)
	out = binary.LittleEndian.AppendUint32(out, sl.logBase)
	tl := &sl.tail
	for _, v := range [...]uint32{tl.b, tl.t, uint32(tl.dt), tl.played, tl.stalled} {
		out = binary.LittleEndian.AppendUint32(out, v)
	}
	out = append(out, tl.typ, b2u8(tl.muted), tl.fp)
	out = binary.LittleEndian.AppendUint16(out, tl.n)
	for _, w := range s.tab.bitsOf(p.ring, i) {
		out = binary.LittleEndian.AppendUint64(out, w)
	}
	log := *s.tab.log(i)
	out = binary.AppendUvarint(out, uint64(len(log)))
	out = append(out, log...)
	return out
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func appendState(out []byte, st *lstate) []byte {
	for _, v := range [...]uint32{st.pos, st.start, st.last, st.audEnd, st.sPlayed, st.qA, st.qB} {
		out = binary.LittleEndian.AppendUint32(out, v)
	}
	out = binary.LittleEndian.AppendUint16(out, st.accA)
	out = binary.LittleEndian.AppendUint16(out, st.accB)
	return append(out, st.flags)
}

// blobReader reads what listenerBlob wrote.
type blobReader struct {
	b   []byte
	err bool
}

func (r *blobReader) take(n int) []byte {
	if r.err || n < 0 || len(r.b) < n {
		r.err = true
		return make([]byte, 8) // what the fixed-size readers need; the caller reports the error
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *blobReader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *blobReader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *blobReader) u16() uint16 { return binary.LittleEndian.Uint16(r.take(2)) }
func (r *blobReader) u8() uint8   { return r.take(1)[0] }

func (r *blobReader) state() lstate {
	var st lstate
	for _, v := range [...]*uint32{&st.pos, &st.start, &st.last, &st.audEnd, &st.sPlayed, &st.qA, &st.qB} {
		*v = r.u32()
	}
	st.accA, st.accB, st.flags = r.u16(), r.u16(), r.u8()
	return st
}

// Restore returns the partition state serialized by MarshalBinary or WriteCheckpoint (format 4),
// or by format 3's MarshalBinary.
func Restore(cfg Config, data []byte) (*Partition, error) {
	if len(data) > 0 && data[0] < oldestRestorable {
		return nil, ErrOldCheckpoint
	}
	if len(data) == 0 || data[0] > checkpointVersion {
		return nil, fmt.Errorf("unknown checkpoint version")
	}
	version, rest := data[0], data[1:]
	hdr := rest
	if version >= 4 {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) || n > maxCheckpointHeader {
			return nil, fmt.Errorf("cannot decode checkpoint: bad header length")
		}
		hdr, rest = rest[k:k+int(n)], rest[k+int(n):]
	}
	var snap snapshot
	if err := gob.NewDecoder(bytes.NewReader(hdr)).Decode(&snap); err != nil {
		return nil, fmt.Errorf("cannot decode checkpoint: %w", err)
	}
	p := New(cfg, snap.ID)
	if snap.Horizon != p.horizon {
		return nil, fmt.Errorf("checkpoint was written with session.horizon %s, the config says %s: restore with the same horizon",
			time.Duration(snap.Horizon)*time.Millisecond, p.cfg.Horizon)
	}
	p.ingest, p.Offset, p.tombs = snap.Ingest, snap.Offset, snap.Tombs
	if snap.Dropped != nil {
		p.Dropped = snap.Dropped
	}
	// Format 4's listeners follow the header, stream after stream; format 3's are in it.
	tail := blobReader{}
	if version >= 4 {
		tail.b = rest
	}
	for _, ss := range snap.Streams {
		s := &stream{id: ss.ID, sym: p.nameStream(ss.ID), base: ss.Base, live: ss.Live, closed: ss.Closed,
			clockDirty: ss.ClockDirty, data: ss.Data, lastArrival: ss.LastArrival, closedAt: ss.ClosedAt,
			closedTo: ss.ClosedTo, finalTo: ss.FinalTo, minutes: map[int64]*window.Minute{}, quarters: map[int64]*quarter{},
			deliv: delivery{minute: ss.DelivMinute, late: ss.Late, duplicates: ss.Duplicates, tooLate: ss.TooLate, dirty: ss.DelivDirty}, auth: ss.Auth}
		for _, c := range ss.Codes {
			s.codes.intern([]byte(c))
		}
		r := &tail
		if version == 3 {
			r = &blobReader{b: ss.Listeners}
		}
		if !p.restoreListeners(s, r, ss.ListenerCount) || version == 3 && len(r.b) != 0 {
			return nil, fmt.Errorf("cannot decode checkpoint: listeners of stream %s are corrupt", ss.ID)
		}
		for _, m := range ss.Minutes {
			s.minutes[m.Start] = m
		}
		for _, q := range ss.Quarters {
			s.quarters[q.Start] = &quarter{aqh: q.AQH, closed: q.Closed, final: q.Final, dirty: q.Dirty, emitted: q.Emitted}
		}
		p.streams[s.id] = s
	}
	if len(tail.b) != 0 {
		return nil, fmt.Errorf("cannot decode checkpoint: %d bytes after the last listener", len(tail.b))
	}
	return p, nil
}

// restoreListeners reads n listeners packed by appendListener from r into s; false if they are
// corrupt.
func (p *Partition) restoreListeners(s *stream, r *blobReader, n int) bool {
	for range n {
		i := s.tab.add(p.ring, r.u64())
		sl := s.tab.at(i)
		sl.head, sl.fold = r.state(), r.state()
		sl.foldQual, sl.logBase = r.u16(), r.u32()
		tl := &sl.tail
		tl.b, tl.t, tl.dt, tl.played, tl.stalled = r.u32(), r.u32(), int32(r.u32()), r.u32(), r.u32()
		tl.typ, tl.muted, tl.fp, tl.n = r.u8(), r.u8() == 1, r.u8(), r.u16()
		bits := s.tab.bitsOf(p.ring, i)
		for w := range bits {
			bits[w] = r.u64()
		}
		n, k := binary.Uvarint(r.b)
		if k <= 0 {
			return false
		}
		r.b = r.b[k:]
		if n > uint64(len(r.b)) {
			return false
		}
		*s.tab.log(i) = slices.Clone(r.take(int(n)))
		if r.err {
			return false // before a corrupt count makes a table of garbage
		}
	}
	return true
}
