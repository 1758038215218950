package session

import (
	"fmt"
	"slices"
)

// verify checks the invariants the hot path and re-derivation rely on, for every listener:
// its log is sorted and decodes to its tail; replaying the log from the fold state brings the
// machine exactly to the head state; and the listener's minute bits are what that replay sets.
func (p *Partition) verify() error {
	for _, s := range p.streams {
		var err error
		s.tab.each(func(i int32, sl *slot) {
			if err != nil {
				return
			}
			log := *s.tab.log(i)
			evs, derr := decodeLog(log, sl.logBase, nil)
			if derr != nil {
				err = fmt.Errorf("listener %x: %w", sl.key, derr)
				return
			}
			if !slices.IsSortedFunc(evs, func(a, b ev) int { return cmpEv(&a, &b) }) {
				err = fmt.Errorf("listener %x: log not sorted: %+v", sl.key, evs)
				return
			}
			if n := len(evs); n > 0 && (evs[n-1].b != sl.tail.b || evs[n-1].t != sl.tail.t || int(sl.tail.n) != min(n, 1<<16-1)) {
				err = fmt.Errorf("listener %x: tail %+v, last entry %+v of %d", sl.key, sl.tail, evs[n-1], n)
				return
			}
			if len(evs) > 0 && evs[0].b < sl.fold.pos {
				err = fmt.Errorf("listener %x: log entry %+v before the fold %d", sl.key, evs[0], sl.fold.pos)
				return
			}
			rec := make([]uint64, p.ring.stride())
			d := deriv{p: p, s: s, key: sl.key, slot: i, bits: bitsRecord, flags: rec, floor: s.finalTo}
			st := sl.fold
			d.seed(&st, sl.foldQual)
			d.run(&st, evs)
			d.moveTo(&st, sl.head.pos)
			if st != sl.head {
				err = fmt.Errorf("listener %x: replay gives %+v, head is %+v (fold %+v, events %+v)", sl.key, st, sl.head, sl.fold, evs)
				return
			}
			bits := s.tab.bitsOf(p.ring, i)
			if !slices.Equal(rec, bits) {
				err = fmt.Errorf("listener %x: replay sets bits %x, listener has %x", sl.key, rec, bits)
			}
		})
		if err != nil {
			return fmt.Errorf("stream %s: %w", s.id, err)
		}
	}
	return nil
}
