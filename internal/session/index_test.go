package session

import (
	"math/rand/v2"
	"testing"
)

// TestIndexAgainstMap: random puts, gets and deletes, with keys chosen to collide in their home
// positions, agree with a Go map.
func TestIndexAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var x index
	ref := map[uint64]int32{}
	keys := make([]uint64, 0, 5000)
	for op := range 200_000 {
		switch k := r.IntN(10); {
		case k < 5 || len(keys) == 0:
			key := r.Uint64()
			if r.IntN(4) == 0 && len(keys) > 0 {
				key = keys[r.IntN(len(keys))] ^ 1<<(r.IntN(20)) // a near neighbour
			}
			if _, ok := ref[key]; ok {
				continue
			}
			ref[key] = int32(op)
			keys = append(keys, key)
			x.put(key, int32(op))
		case k < 8:
			i := r.IntN(len(keys))
			key := keys[i]
			x.del(key)
			delete(ref, key)
			keys[i] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
		default:
			key := keys[r.IntN(len(keys))]
			if got := x.get(key); got != ref[key] {
				t.Fatalf("op %d: get %x = %d, want %d", op, key, got, ref[key])
			}
		}
	}
	for key, slot := range ref {
		if got := x.get(key); got != slot {
			t.Fatalf("get %x = %d, want %d", key, got, slot)
		}
	}
	if x.n != len(ref) {
		t.Fatalf("%d entries, want %d", x.n, len(ref))
	}
	if x.get(12345) != -1 {
		t.Fatal("absent key found")
	}
}

// TestPages: slots map to pages one to one, in order, pages doubling from 16 to 4 096.
func TestPages(t *testing.T) {
	next := 0
	for i := int32(0); i < 3*4096+smallSlots; i++ {
		k, j := page(i)
		if j >= pageSize(k) || pageStart(k)+int32(j) != i {
			t.Fatalf("slot %d: page %d index %d (size %d, start %d)", i, k, j, pageSize(k), pageStart(k))
		}
		if j == 0 {
			if k != next {
				t.Fatalf("slot %d starts page %d, want %d", i, k, next)
			}
			next++
		}
	}
}
