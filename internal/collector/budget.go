package collector

import (
	"io"
	"sync/atomic"
)

// byteBudget bounds the bytes of request bodies held at once by the whole process
// (limits.max_inflight_bytes): the decoded bodies as they are read, then the encoded records
// until Kafka has them. It never blocks: a request that does not fit is answered 503 at once,
// so that a flood of bodies costs the collector neither memory nor goroutines waiting in a
// queue. Safe for concurrent use.
type byteBudget struct {
	max  int64
	used atomic.Int64
}

// acquire reserves n bytes and reports whether they fit.
func (b *byteBudget) acquire(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// charge reserves n bytes whether they fit or not (memory already in use).
func (b *byteBudget) charge(n int64) { b.used.Add(n) }

// release returns n bytes reserved by acquire or charge.
func (b *byteBudget) release(n int64) { b.used.Add(-n) }

// heldReader charges the budget for every byte read through it, as it is read: a body is
// charged for what it has actually delivered, so a slow body that declares a megabyte and sends a
// byte a second holds a byte a second, not a megabyte. A read that does not fit fails with
// errOverloaded (the caller answers 503). held is what to release.
type heldReader struct {
	r    io.Reader
	b    *byteBudget
	held int64
	// prepaid is room already charged (the buffer's free capacity when the read began): bytes
	// read into it cost nothing more.
	prepaid int64
}

func (h *heldReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if c := int64(n) - h.prepaid; c > 0 {
		if !h.b.acquire(c) {
			return 0, errOverloaded
		}
		h.held += c
		h.prepaid = 0
	} else {
		h.prepaid -= int64(n)
	}
	return n, err
}
