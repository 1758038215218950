package sketch

import (
	"math/rand/v2"
	"testing"
)

func TestExactUpToLimitThenSketch(t *testing.T) {
	var s Set
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, ExactLimit)
	for i := range keys {
		keys[i] = r.Uint64()
		s.Insert(keys[i])
		s.Insert(keys[i]) // duplicates do not count
	}
	c := s.Count()
	if !c.Exact || c.Value != ExactLimit || c.Lo != c.Hi {
		t.Fatalf("at the limit: %+v", c)
	}
	s.Insert(r.Uint64())
	c = s.Count()
	if c.Exact || c.Lo > ExactLimit+1 || c.Hi < ExactLimit+1 {
		t.Fatalf("past the limit: %+v", c)
	}
}

func TestMergeAndSerialization(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var a, b, small Set
	for range 50_000 {
		k := r.Uint64()
		a.Insert(k)
		b.Insert(k) // b holds a's keys and more
	}
	for range 50_000 {
		b.Insert(r.Uint64())
	}
	for range 100 {
		small.Insert(r.Uint64())
	}
	for _, s := range []*Set{&a, &b, &small} {
		data, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Set
		if err := back.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		if back.Count() != s.Count() {
			t.Fatalf("round trip changed the count: %+v vs %+v", back.Count(), s.Count())
		}
		again, _ := back.MarshalBinary()
		if string(again) != string(data) {
			t.Fatal("serialization is not deterministic")
		}
	}
	if err := a.Merge(&b); err != nil {
		t.Fatal(err)
	}
	if err := a.Merge(&small); err != nil {
		t.Fatal(err)
	}
	if c := a.Count(); c.Lo > 100_100 || c.Hi < 100_100 {
		t.Fatalf("union of 100 100 distinct: %+v", c)
	}
	var e Set
	if err := e.Merge(&small); err != nil || !e.Exact() || e.Count().Value != 100 {
		t.Fatalf("exact merge: %+v %v", e.Count(), err)
	}
	if err := e.UnmarshalBinary([]byte{9, 9}); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestSum(t *testing.T) {
	c := Sum(Count{Value: 10, Lo: 10, Hi: 10, Exact: true}, Count{Value: 5, Lo: 5, Hi: 5, Exact: true})
	if !c.Exact || c.Value != 15 {
		t.Fatalf("%+v", c)
	}
	a := Estimate(100_000)
	s := Sum(a, a, Count{Value: 7, Lo: 7, Hi: 7, Exact: true})
	// Independent errors add in quadrature: the half-width of the sum is √2 that of one.
	want := (a.Hi - a.Lo) * 1.41421356 / 2
	if s.Exact || s.Value != 200_007 || (s.Hi-s.Lo)/2 < want*0.999 || (s.Hi-s.Lo)/2 > want*1.001 {
		t.Fatalf("%+v, half width want %f", s, want)
	}
}

func BenchmarkInsert(b *testing.B) {
	var s Set
	r := rand.New(rand.NewPCG(1, 1))
	for range ExactLimit + 1 {
		s.Insert(r.Uint64())
	}
	keys := make([]uint64, 1<<16)
	for i := range keys {
		keys[i] = r.Uint64()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Insert(keys[i&(1<<16-1)])
		i++
	}
}
