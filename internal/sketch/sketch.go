// Package sketch counts distinct listeners: exactly while a set is small, and with a
// HyperLogLog sketch (github.com/axiomhq/hyperloglog, precision 16) beyond that, always with
// a 95 % interval.
//
// Precision: the HyperLogLog relative standard error is 1.04/√m. The requirement is a
// 95 % interval within ±1 % for counts ≥ 100 000: 1.96 × 1.04/√m ≤ 0.01 needs m ≥ 41 539, so
// m = 2¹⁶ (precision 16): ±0.80 %. One precision for every sketch, because merging sketches of
// different precision fails.
//
// Inputs are the collector's 64-bit listener keys (HMAC output, uniform): they are inserted
// with InsertHash and never hashed again.
package sketch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/axiomhq/hyperloglog"
)

const (
	// Precision of every HyperLogLog sketch (m = 65 536 registers).
	Precision = 16
	// Version identifies the sketch algorithm and its serialization; stored with every row.
	Version = 1
	// ExactLimit is the largest set kept exactly (a list of 64-bit keys, ≤ 32 KiB; a dense
	// sketch costs 64 KiB). Up to it counts are exact: 64-bit keys make a collision among
	// 4 096 listeners a 1-in-10¹² event.
	ExactLimit = 4096
	// Z is the normal quantile of a two-sided 95 % interval.
	Z = 1.959964
)

// Set is a distinct-count set of 64-bit keys. The zero value is empty and ready to use.
// A Set is not safe for concurrent use.
type Set struct {
	exact map[uint64]struct{} // while small; nil once the sketch took over (or empty)
	hll   *hyperloglog.Sketch
}

// Insert adds key.
func (s *Set) Insert(key uint64) {
	if s.hll != nil {
		s.hll.InsertHash(key)
		return
	}
	if s.exact == nil {
		s.exact = make(map[uint64]struct{}, 8)
	}
	s.exact[key] = struct{}{}
	if len(s.exact) > ExactLimit {
		s.toSketch()
	}
}

func (s *Set) toSketch() {
	s.hll = hyperloglog.New16NoSparse()
	for k := range s.exact {
		s.hll.InsertHash(k)
	}
	s.exact = nil
}

// Len is the exact size, or -1 once the set is a sketch.
func (s *Set) Len() int {
	if s.hll != nil {
		return -1
	}
	return len(s.exact)
}

// Merge adds every key of o to s (o is unchanged).
func (s *Set) Merge(o *Set) error {
	if o.hll != nil {
		if s.hll == nil {
			s.toSketch()
		}
		if err := s.hll.Merge(o.hll); err != nil {
			return fmt.Errorf("cannot merge sketches: %w", err)
		}
		return nil
	}
	for k := range o.exact {
		s.Insert(k)
	}
	return nil
}

// Exact reports whether the count is exact.
func (s *Set) Exact() bool { return s.hll == nil }

// Count is a distinct count with its 95 % interval.
type Count struct {
	Value  float64
	Lo, Hi float64
	Exact  bool
}

// Count returns the estimate. It may compact the sketch: never call it per event, and never
// concurrently with Insert.
func (s *Set) Count() Count {
	if s.hll == nil {
		n := float64(len(s.exact))
		return Count{Value: n, Lo: n, Hi: n, Exact: true}
	}
	return Estimate(float64(s.hll.Estimate()))
}

// Estimate builds the interval of one dense sketch's estimate.
func Estimate(v float64) Count {
	half := Z * RelStdErr(v) * v
	return Count{Value: v, Lo: math.Max(0, v-half), Hi: v + half}
}

// Sum adds counts of disjoint sets (one listener lives in one partition): values add, and
// so do variances.
func Sum(counts ...Count) Count {
	var total, variance float64
	exact := true
	for _, c := range counts {
		total += c.Value
		if !c.Exact {
			exact = false
			sd := (c.Hi - c.Lo) / (2 * Z)
			variance += sd * sd
		}
	}
	if exact {
		return Count{Value: total, Lo: total, Hi: total, Exact: true}
	}
	half := Z * math.Sqrt(variance)
	return Count{Value: total, Lo: math.Max(0, total-half), Hi: total + half}
}

// Serialization: byte 0 is the Version, byte 1 the kind (0 exact, 1 sketch); then either a
// uvarint count and the sorted keys as uvarint deltas, or axiomhq's own binary form.
const (
	kindExact  = 0
	kindSketch = 1
)

// ErrCorrupt is returned for data that is not a serialized Set.
var ErrCorrupt = errors.New("corrupt sketch data")

// MarshalBinary serializes s (deterministically: equal sets give equal bytes).
func (s *Set) MarshalBinary() ([]byte, error) {
	if s.hll != nil {
		b, err := s.hll.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return append([]byte{Version, kindSketch}, b...), nil
	}
	keys := make([]uint64, 0, len(s.exact))
	for k := range s.exact {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := binary.AppendUvarint([]byte{Version, kindExact}, uint64(len(keys)))
	var prev uint64
	for _, k := range keys {
		out = binary.AppendUvarint(out, k-prev)
		prev = k
	}
	return out, nil
}

// UnmarshalBinary restores a Set serialized by MarshalBinary.
func (s *Set) UnmarshalBinary(b []byte) error {
	*s = Set{}
	if len(b) < 2 || b[0] != Version {
		return ErrCorrupt
	}
	switch b[1] {
	case kindSketch:
		s.hll = hyperloglog.New16NoSparse()
		if err := s.hll.UnmarshalBinary(b[2:]); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil
	case kindExact:
		b = b[2:]
		n, k := binary.Uvarint(b)
		if k <= 0 || n > ExactLimit {
			return ErrCorrupt
		}
		b = b[k:]
		s.exact = make(map[uint64]struct{}, n)
		var prev uint64
		for range n {
			d, k := binary.Uvarint(b)
			if k <= 0 {
				return ErrCorrupt
			}
			b = b[k:]
			prev += d
			s.exact[prev] = struct{}{}
		}
		if len(b) != 0 {
			return ErrCorrupt
		}
		return nil
	}
	return ErrCorrupt
}
