package session

import (
	"math/bits"

	"github.com/earshot/earshot/internal/window"
)

// The listener table of one stream: per listener a slot (fixed size, no pointers), its event
// log (docs/time.md) and its minute bits, in pages so the table grows without copying. Pages
// double from 16 slots to 4 096 and stay at that, so a stream of a few listeners (most live
// rooms) costs a few kilobytes, not a 4 096-slot page.

const (
	firstPageBits = 4  // 16 slots
	pageBits      = 12 // 4 096 slots: the largest page
	// smallSlots is the number of slots in the doubling pages: 16 + 16 + 32 + … + 2 048.
	smallSlots = 1 << pageBits
)

// page locates slot i: its page and its index in it. Page 0 and 1 hold 16 slots, page k
// (2 ≤ k ≤ 8) holds 16·2^(k−1), from page 9 on 4 096 each.
func page(i int32) (int, int) {
	if i < smallSlots {
		if i < 1<<firstPageBits {
			return 0, int(i)
		}
		k := bits.Len32(uint32(i)) - firstPageBits // i in [16·2^(k−1), 16·2^k)
		return k, int(i) - 1<<(k+firstPageBits-1)
	}
	j := int(i) - smallSlots
	return pageBits - firstPageBits + 1 + j>>pageBits, j & (1<<pageBits - 1)
}

// pageSize is the number of slots of page k.
func pageSize(k int) int {
	switch {
	case k == 0:
		return 1 << firstPageBits
	case k <= pageBits-firstPageBits:
		return 1 << (k + firstPageBits - 1)
	}
	return 1 << pageBits
}

// pageStart is the first slot of page k.
func pageStart(k int) int32 {
	if k <= pageBits-firstPageBits {
		if k == 0 {
			return 0
		}
		return 1 << (k + firstPageBits - 1)
	}
	return smallSlots + int32(k-(pageBits-firstPageBits+1))<<pageBits
}

// slot is one listener: its machine state now (head) and at the start of its log (fold), and
// what the hot path needs to append to the log and to tell in-order events (tail).
type slot struct {
	key  uint64
	head lstate
	fold lstate
	tail tail
	// foldQual: qualified bits that folded events set in the minutes from minute(fold.pos) on
	// (bit i: i minutes later); the other bits they set there follow from fold (see seed).
	foldQual uint16
	used     bool
	// logBase is the time the log's first entry counts from.
	logBase uint32
}

// tail describes the log's last entry: the hot path applies an event at once when it sorts
// after it, and encodes it relative to it.
type tail struct {
	b, t            uint32
	dt              int32 // t minus the ts of the entry before it
	played, stalled uint32
	typ             uint8
	muted           bool
	fp              uint8
	n               uint16 // entries in the log (0: empty; saturates)
}

// ring maps minutes to bit positions: a listener's bits cover `minutes` consecutive minutes
// from its stream's first non-final minute, each minute's bit reused once the minute is final.
type ring struct {
	minutes int // a power of two, at least 64
	words   int // per kind
}

func newRing(horizonMinutes int) ring {
	// The non-final minutes span the horizon plus the minute in progress and the one being
	// closed; a little more keeps a minute's bit clear of the one it will be reused for.
	n := 64
	for n < horizonMinutes+4 {
		n *= 2
	}
	return ring{minutes: n, words: n / 64}
}

func (r ring) stride() int { return window.Kinds * r.words }

func (r ring) pos(k int, minute int64) (word int, bit uint64) {
	i := int(uint64(minute/window.MinuteMS) & uint64(r.minutes-1)) // minutes are ≥ 0: unix ms
	return k*r.words + i>>6, 1 << (i & 63)
}

func (r ring) set(bits []uint64, k int, minute int64) {
	w, b := r.pos(k, minute)
	bits[w] |= b
}

func (r ring) has(bits []uint64, k int, minute int64) bool {
	w, b := r.pos(k, minute)
	return bits[w]&b != 0
}

// minuteAt is the minute (unix ms) that ring slot i stands for, among the `minutes` minutes
// from the first non-final one, from (a minute start).
func (r ring) minuteAt(i int, from int64) int64 {
	first := int(uint64(from/window.MinuteMS) & uint64(r.minutes-1))
	return from + int64((i-first+r.minutes)&(r.minutes-1))*window.MinuteMS
}

// clear clears every kind's bits of the minutes in [from, to).
func (r ring) clear(bits []uint64, from, to int64) {
	if to-from >= int64(r.minutes)*window.MinuteMS {
		clear(bits)
		return
	}
	for m := from; m < to; m += window.MinuteMS {
		for k := range window.Kinds {
			w, b := r.pos(k, m)
			bits[w] &^= b
		}
	}
}

// flagsAt are the Flag* bits of one minute.
func (r ring) flagsAt(bits []uint64, minute int64) uint8 {
	w, b := r.pos(0, minute)
	var f uint8
	for k := range window.Kinds {
		if bits[w+k*r.words]&b != 0 {
			f |= 1 << k
		}
	}
	return f
}

func (r ring) empty(bits []uint64) bool {
	for _, w := range bits {
		if w != 0 {
			return false
		}
	}
	return true
}

// table is one stream's listeners.
type table struct {
	index index
	slots [][]slot
	logs  [][][]byte
	bits  [][]uint64
	used  int32 // slots handed out
	free  []int32
	live  int // slots in use
}

func (t *table) at(i int32) *slot {
	k, j := page(i)
	return &t.slots[k][j]
}

func (t *table) log(i int32) *[]byte {
	k, j := page(i)
	return &t.logs[k][j]
}

func (t *table) bitsOf(r ring, i int32) []uint64 {
	k, j := page(i)
	j *= r.stride()
	return t.bits[k][j : j+r.stride() : j+r.stride()]
}

// lookup returns key's slot, or −1.
func (t *table) lookup(key uint64) int32 {
	return t.index.get(key)
}

// holds reports whether slot i (a slot handed out before) is key's.
func (t *table) holds(i int32, key uint64) bool {
	return i < t.used && t.at(i).used && t.at(i).key == key
}

// add returns a fresh slot for key.
func (t *table) add(r ring, key uint64) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		i = t.used
		t.used++
		if k, _ := page(i); k == len(t.slots) {
			n := pageSize(k)
			t.slots = append(t.slots, make([]slot, n))
			t.logs = append(t.logs, make([][]byte, n))
			t.bits = append(t.bits, make([]uint64, n*r.stride()))
		}
	}
	*t.at(i) = slot{key: key, used: true}
	*t.log(i) = nil
	clear(t.bitsOf(r, i))
	t.index.put(key, i)
	t.live++
	return i
}

// remove frees slot i.
func (t *table) remove(r ring, i int32) {
	s := t.at(i)
	t.index.del(s.key)
	*s = slot{}
	*t.log(i) = nil
	clear(t.bitsOf(r, i))
	t.free = append(t.free, i)
	t.live--
}

// each calls f for every slot in use, in slot order.
func (t *table) each(f func(i int32, s *slot)) {
	for k, pg := range t.slots {
		start := pageStart(k)
		for j := range pg {
			if pg[j].used {
				f(start+int32(j), &pg[j])
			}
		}
	}
}
