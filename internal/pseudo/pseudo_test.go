package pseudo

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

var (
	secretA = bytes.Repeat([]byte("a"), 32)
	secretB = bytes.Repeat([]byte("b"), 32)
)

func TestHashIsKeyedStableAndSpread(t *testing.T) {
	ha, err := New(Key{ID: 1, Secret: secretA}, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := New(Key{ID: 2, Secret: secretB}, nil, time.Time{})
	_, a1 := ha.Hash([]byte("alice"), 0)
	_, a2 := ha.Hash([]byte("alice"), 99)
	_, b1 := hb.Hash([]byte("alice"), 0)
	if a1 != a2 {
		t.Fatal("same id and key gave different listener keys")
	}
	if a1 == b1 {
		t.Fatal("different secrets gave the same listener key")
	}
	// Uniformity: the top 4 bits (HyperLogLog's register index bits) are spread evenly.
	var buckets [16]int
	const n = 64000
	for i := range n {
		_, k := ha.Hash([]byte(fmt.Sprint("listener-", i)), 0)
		buckets[k>>60]++
	}
	for i, c := range buckets {
		if c < n/16*9/10 || c > n/16*11/10 {
			t.Fatalf("bucket %d holds %d of %d: not uniform", i, c, n)
		}
	}
}

func TestRotationSwitchesAtPreviousUntil(t *testing.T) {
	switchAt := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	h, err := New(Key{ID: 2, Secret: secretB}, &Key{ID: 1, Secret: secretA}, switchAt)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := New(Key{ID: 1, Secret: secretA}, nil, time.Time{})
	_, want := old.Hash([]byte("x"), 0)
	if id, got := h.Hash([]byte("x"), switchAt.UnixMilli()-1); id != 1 || got != want {
		t.Fatalf("before the switch: key %d listener %x, want key 1 listener %x", id, got, want)
	}
	if id, got := h.Hash([]byte("x"), switchAt.UnixMilli()); id != 2 || got == want {
		t.Fatalf("at the switch: key %d listener %x, want key 2 and a new listener key", id, got)
	}
}

func TestRejectsWeakOrAmbiguousKeys(t *testing.T) {
	if _, err := New(Key{ID: 1, Secret: []byte("short")}, nil, time.Time{}); err == nil {
		t.Fatal("accepted a 5-byte secret")
	}
	if _, err := New(Key{ID: 1, Secret: secretA}, &Key{ID: 1, Secret: secretB}, time.Now()); err == nil {
		t.Fatal("accepted two keys with the same id")
	}
}

func BenchmarkHash(b *testing.B) {
	h, _ := New(Key{ID: 1, Secret: secretA}, nil, time.Time{})
	id := []byte("1234567890-device-abcdef")
	b.ReportAllocs()
	b.SetBytes(int64(len(id)))
	for b.Loop() {
		h.Hash(id, 0)
	}
}
