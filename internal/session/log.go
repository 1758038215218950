package session

import (
	"encoding/binary"
	"errors"

	"github.com/earshot/earshot/pkg/event"
)

// A listener's event log holds its events inside the correction horizon, sorted by cmpEv, so a
// late event can be put in its place and the listener derived again. It is the memory bill of
// the horizon (30 min ≈ 180 heartbeats), so it is packed:
//
//   - a *repeat* entry is one byte, 0x80 | fingerprint: the same type, flags, played_ms and
//     stalled_ms as the entry before, and as far from it in time as that one was from its own
//     predecessor. A player's regular heartbeats are repeats.
//   - any other entry: a header byte (type in bits 0–2, muted bit 3, stalled bit 4), the ts as
//     a zigzag varint difference from the previous entry's ts (from the fold position for the
//     first), played_ms (heartbeat), stalled_ms (if the bit is set), the error code's symbol
//     (error), then the fingerprint byte.
//
// The fingerprint is 7 bits of the event id's hash: copies are recognised by listener, ts,
// where the event begins, type and fingerprint together, so two different events are taken
// for copies only if one listener sent both at the same millisecond with the same type and the
// 7 bits agree.

const repeatBit = 0x80

// maxEntry bounds one entry's size: header, ts difference (zigzag varint of an int64: 10),
// played, stalled and code (uvarints of 32 bits: 5 each), fingerprint.
const maxEntry = 1 + 10 + 5 + 5 + 5 + 1

var errLogCorrupt = errors.New("corrupt listener event log")

// appendEv appends e to log after the entry tl describes, and updates tl.
func appendEv(log []byte, tl *tail, e *ev) []byte {
	dt := int64(e.t) - int64(tl.t)
	if tl.n > 0 && e.typ != event.TypeError && uint8(e.typ) == tl.typ && e.muted == tl.muted &&
		e.played == tl.played && e.stalled == tl.stalled && dt == int64(tl.dt) {
		log = append(log, repeatBit|e.fp)
	} else {
		h := uint8(e.typ)
		if e.muted {
			h |= 1 << 3
		}
		if e.stalled > 0 {
			h |= 1 << 4
		}
		log = append(log, h)
		log = binary.AppendVarint(log, dt)
		if e.typ == event.TypeHeartbeat {
			log = binary.AppendUvarint(log, uint64(e.played))
		}
		if e.stalled > 0 {
			log = binary.AppendUvarint(log, uint64(e.stalled))
		}
		if e.typ == event.TypeError {
			log = binary.AppendUvarint(log, uint64(e.code))
		}
		log = append(log, e.fp)
	}
	*tl = tail{b: e.b, t: e.t, dt: int32(dt), played: e.played, stalled: e.stalled, typ: uint8(e.typ),
		muted: e.muted, fp: e.fp, n: more(tl.n)}
	return log
}

// encodeLog writes evs as a log whose first entry counts from base, and returns its tail (for an
// empty log: n = 0 and t = base, where the next entry counts from).
func encodeLog(dst []byte, base uint32, evs []ev) ([]byte, tail) {
	tl := tail{t: base}
	for i := range evs {
		dst = appendEv(dst, &tl, &evs[i])
	}
	return dst, tl
}

// decodeLog appends the events of log (first entry counted from base) to out.
func decodeLog(log []byte, base uint32, out []ev) ([]ev, error) {
	tl := tail{t: base}
	for i := 0; i < len(log); {
		e, n, err := decodeEntry(log[i:], &tl)
		if err != nil {
			return out, err
		}
		out = append(out, e)
		i += n
	}
	return out, nil
}

// decodeEntry decodes the entry at the start of b, which follows the entry tl describes, and
// updates tl. It returns the entry's length.
func decodeEntry(b []byte, tl *tail) (ev, int, error) {
	h := b[0]
	var e ev
	if h&repeatBit != 0 {
		if tl.n == 0 {
			return e, 0, errLogCorrupt
		}
		e = ev{t: uint32(int64(tl.t) + int64(tl.dt)), played: tl.played, stalled: tl.stalled,
			typ: event.Type(tl.typ), muted: tl.muted, fp: h &^ repeatBit}
		if err := e.finish(); err != nil {
			return e, 0, err
		}
		*tl = tail{b: e.b, t: e.t, dt: tl.dt, played: e.played, stalled: e.stalled, typ: tl.typ, muted: e.muted, fp: e.fp, n: more(tl.n)}
		return e, 1, nil
	}
	e.typ = event.Type(h & 7)
	e.muted = h&(1<<3) != 0
	i := 1
	field := func() uint64 {
		if i < 0 {
			return 0
		}
		v, n := binary.Uvarint(b[i:])
		if n <= 0 {
			i = -1
			return 0
		}
		i += n
		return v
	}
	dt, n := binary.Varint(b[i:])
	if n <= 0 {
		return e, 0, errLogCorrupt
	}
	i += n
	e.t = uint32(int64(tl.t) + dt)
	if e.typ == event.TypeHeartbeat {
		e.played = uint32(field())
	}
	if h&(1<<4) != 0 {
		e.stalled = uint32(field())
	}
	if e.typ == event.TypeError {
		e.code = uint32(field())
	}
	if i < 0 || i >= len(b) {
		return e, 0, errLogCorrupt
	}
	e.fp = b[i]
	i++
	if err := e.finish(); err != nil {
		return e, 0, err
	}
	*tl = tail{b: e.b, t: e.t, dt: int32(dt), played: e.played, stalled: e.stalled, typ: uint8(e.typ), muted: e.muted, fp: e.fp, n: more(tl.n)}
	return e, i, nil
}

// finish checks a decoded event and sets where it begins.
func (e *ev) finish() error {
	switch e.typ {
	case event.TypeJoin, event.TypeLeave, event.TypePlay, event.TypeError, event.TypeHeartbeat:
	default:
		return errLogCorrupt
	}
	e.b = e.t
	if e.typ == event.TypeHeartbeat {
		if e.played > e.t {
			return errLogCorrupt
		}
		e.b = e.t - e.played
	}
	return nil
}

// firstBegin is where the log's first event begins (the log must not be empty).
func firstBegin(log []byte, base uint32) (uint32, error) {
	tl := tail{t: base}
	e, _, err := decodeEntry(log, &tl)
	return e.b, err
}

// more counts one more entry, saturating: n only tells an empty log from one with entries.
func more(n uint16) uint16 {
	if n < 1<<16-1 {
		return n + 1
	}
	return n
}
