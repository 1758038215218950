package collector

import (
	"net/http"
	"strings"
	"sync/atomic"
)

// byteBudget bounds the bytes of request bodies held at once by the whole process
// (limits.max_inflight_bytes). It never blocks: a request that does not fit is answered 503 at
// once, so that a flood of slow bodies costs the collector neither memory nor goroutines
// waiting in a queue. Safe for concurrent use.
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

// release returns n bytes reserved by acquire.
func (b *byteBudget) release(n int64) { b.used.Add(-n) }

// bodyReservation is what reading r's body may hold: max_body_bytes, or the declared
// Content-Length when smaller and the body is not compressed (a gzip body of any length may
// decode to max_body_bytes).
func bodyReservation(r *http.Request, limit int64) int64 {
	enc := strings.ToLower(r.Header.Get("Content-Encoding"))
	if (enc == "" || enc == "identity") && r.ContentLength >= 0 && r.ContentLength < limit {
		return r.ContentLength
	}
	return limit
}
