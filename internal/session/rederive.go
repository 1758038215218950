package session

import (
	"math/bits"
	"slices"

	"github.com/earshot/earshot/internal/window"
)

// Deriving a listener again (docs/time.md). The hot path (Partition.event) applies an
// event at once when it sorts after every event the listener has and the machine has not been
// moved past where it begins. Any other event is put in its place in the log and the listener's
// figures from that place on are derived again: the old derivation is subtracted, the new one
// added, and the minute bits are compared — a bit that disappears takes the listener out of
// that minute's sets, which are built from the bits when the minute is written.

// scratch is reusable memory for re-deriving.
type scratch struct {
	evs   []ev
	flags []uint64
}

func (sc *scratch) bits(n int) []uint64 {
	sc.flags = slices.Grow(sc.flags[:0], n)[:n]
	clear(sc.flags)
	return sc.flags
}

// insert puts e into listener i's log and derives the listener again. It reports false when e
// is a copy of an event the log holds.
func (p *Partition) insert(s *stream, i int32, e ev) bool {
	sl := s.tab.at(i)
	log := s.tab.log(i)
	evs, err := decodeLog(*log, sl.logBase, p.scr.evs[:0])
	if err != nil {
		p.corrupt(s, i)
		return false
	}
	at, found := slices.BinarySearchFunc(evs, e, func(a, b ev) int { return cmpEv(&a, &b) })
	if found {
		p.scr.evs = evs
		return false
	}
	// The replay starts at the instant's group: which of its events come first depends on the
	// state before the instant (see deriv.run).
	g := at
	for g > 0 && evs[g-1].b == e.b && evs[g-1].t == e.t {
		g--
	}
	bits := s.tab.bitsOf(p.ring, i)
	rec := p.scr.bits(len(bits))
	d := deriv{p: p, s: s, key: sl.key, slot: i, bits: bitsRecord, flags: rec, floor: s.finalTo}
	mid := sl.fold
	d.seed(&mid, sl.foldQual)
	d.run(&mid, evs[:g])

	// Take back what the old events from the group on contributed: they bring the machine to
	// where the listener stands now.
	old := mid
	d.sign, d.bits = -1, bitsNone
	d.run(&old, evs[g:])
	d.moveTo(&old, sl.head.pos)

	evs = slices.Insert(evs, at, e)
	nu := mid
	d.sign, d.bits = 1, bitsRecord
	d.run(&nu, evs[g:])
	d.moveTo(&nu, max(sl.head.pos, p.rel(s, s.closedTo)))

	p.diffBits(s, i, sl.key, bits, rec)
	sl.head = nu
	*log, sl.tail = encodeLog((*log)[:0], sl.logBase, evs)
	p.scr.evs = evs
	return true
}

// diffBits makes listener i's bits equal to want for the minutes not yet final: every minute
// whose bits change is due to be written again, and a listener row says what changed.
func (p *Partition) diffBits(s *stream, i int32, key uint64, have, want []uint64) {
	r := p.ring
	for w := range r.words {
		var changed uint64
		for k := range window.Kinds {
			changed |= have[k*r.words+w] ^ want[k*r.words+w]
		}
		for ; changed != 0; changed &= changed - 1 {
			slot := w*64 + bits.TrailingZeros64(changed)
			m := r.minuteAt(slot, s.finalTo)
			wf := p.rowFlags(s, i, m, r.flagsAt(want, m))
			p.minute(s, m).Dirty = true
			p.listenerRow(s, m, key, wf)
		}
	}
	copy(have, want)
}

// fold moves listener i's fold state to `to` (the stream's new first non-final minute, relative):
// the log's events that begin before it are applied to the fold state and leave the log.
func (p *Partition) fold(s *stream, i int32, to uint32) {
	sl := s.tab.at(i)
	if to <= sl.fold.pos {
		return
	}
	log := s.tab.log(i)
	var evs []ev
	if len(*log) > 0 {
		b, err := firstBegin(*log, sl.logBase)
		if err == nil && b < to {
			evs, err = decodeLog(*log, sl.logBase, p.scr.evs[:0])
		}
		if err != nil {
			p.corrupt(s, i)
			return
		}
	}
	n := 0
	for n < len(evs) && evs[n].b < to {
		n++
	}
	rec := p.scr.bits(p.ring.stride())
	d := deriv{p: p, s: s, key: sl.key, slot: i, bits: bitsRecord, flags: rec, floor: s.base + int64(to)}
	// Of the bits the folded events set in minutes that stay open, only qualified bits need
	// keeping: the others follow from the fold state (deriv.seed).
	st := sl.fold
	d.seed(&st, sl.foldQual)
	d.run(&st, evs[:n])
	d.moveTo(&st, to)
	var q uint16
	for k := range 16 {
		if m := s.base + minuteOf(to) + int64(k)*window.MinuteMS; p.ring.has(rec, window.KindQualified, m) {
			q |= 1 << k
		}
	}
	sl.fold, sl.foldQual = st, q
	if sl.head.pos < to {
		// A listener without a live session is not moved at closes (nothing is due); bring
		// it along, so the head never stands behind the fold.
		if sl.head.live() {
			p.drop("bug_live_behind_fold") // closes move live listeners past every final minute
		}
		hd := deriv{p: p, s: s, key: sl.key, slot: i, bits: bitsNone}
		hd.moveTo(&sl.head, to)
	}
	if n > 0 {
		*log, sl.tail = encodeLog((*log)[:0], to, evs[n:])
		if cap(*log) > len(*log)+2*maxEntry {
			*log = append(make([]byte, 0, len(*log)+maxEntry), *log...) // give back what folding freed
		}
		sl.logBase = to
		p.scr.evs = evs
	}
}
