package session

import "math/bits"

// index maps listener keys to table slots: open addressing with linear probing over one flat
// array of 16-byte entries. Listener keys are keyed-hash outputs (uniform), so a multiply and a
// shift place them; a lookup touches one cache line in the common case, where Go's map spent
// a third of the hot path's time probing. Deletion shifts later entries back (no tombstones),
// so lookups never slow down as listeners come and go.
type index struct {
	ents  []ient
	n     int
	shift uint // 64 − log2(len(ents))
}

type ient struct {
	key  uint64
	slot uint32 // slot + 1; 0: empty
}

// indexMin is a new stream's index size: 16 entries (256 bytes), as the table's first page
// holds 16 listeners. Most stream ids a partition sees may be tiny (tests, a player's typo, or
// an attacker minting ids), and each costs what it starts with; a large stream doubles its way up
// at a cost amortised over its listeners.
const indexMin = 16

func (x *index) home(key uint64) int {
	// Not the bits the partitioner uses ((key × φ) >> 32 mod partitions): those are alike for
	// every key of one partition.
	return int((key * 0xBF58476D1CE4E5B9) >> x.shift)
}

// get returns key's slot, or −1.
func (x *index) get(key uint64) int32 {
	if len(x.ents) == 0 {
		return -1
	}
	mask := len(x.ents) - 1
	for i := x.home(key); ; i = (i + 1) & mask {
		e := &x.ents[i]
		if e.slot == 0 {
			return -1
		}
		if e.key == key {
			return int32(e.slot - 1)
		}
	}
}

// put maps key (not present) to slot.
func (x *index) put(key uint64, slot int32) {
	if 4*(x.n+1) > 3*len(x.ents) { // load ≤ 3/4
		x.grow()
	}
	mask := len(x.ents) - 1
	i := x.home(key)
	for x.ents[i].slot != 0 {
		i = (i + 1) & mask
	}
	x.ents[i] = ient{key: key, slot: uint32(slot) + 1}
	x.n++
}

// del removes key, which must be present.
func (x *index) del(key uint64) {
	mask := len(x.ents) - 1
	i := x.home(key)
	for x.ents[i].key != key || x.ents[i].slot == 0 {
		i = (i + 1) & mask
	}
	// Shift the entries after i back while that keeps them reachable from their home.
	for j := (i + 1) & mask; x.ents[j].slot != 0; j = (j + 1) & mask {
		h := x.home(x.ents[j].key)
		// j's entry may move to i when its home is not in (i, j] (cyclically).
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			x.ents[i] = x.ents[j]
			i = j
		}
	}
	x.ents[i] = ient{}
	x.n--
}

func (x *index) grow() {
	old := x.ents
	size := max(indexMin, 2*len(old))
	x.ents = make([]ient, size)
	x.shift = uint(64 - bits.Len(uint(size-1)))
	x.n = 0
	for _, e := range old {
		if e.slot != 0 {
			x.put(e.key, int32(e.slot-1))
		}
	}
}
