package collector

import (
	"container/list"
	"hash/maphash"
	"sync"
	"time"
)

// streamAdmission is the quota on streams that tokens neither scoped to streams nor
// trusted_time may create: every stream id costs the aggregators memory, and such a token
// could otherwise invent them without end. At most max streams are active (seen within idle),
// and at most perMinute new ones are admitted a minute. A stream already active is always
// admitted. It is per collector instance: N collectors admit up to N times as much.
// Memory is bounded by max entries of ~100 bytes (stream ids are kept as 64-bit hashes, seeded
// per process so that nobody can craft ids that collide with active ones to pass as them).
// Safe for concurrent use.
type streamAdmission struct {
	mu     sync.Mutex
	seed   maphash.Seed
	max    int
	idleMS int64
	m      map[uint64]*list.Element
	lru    list.List // of *streamEntry, most recently seen first
	// The new-stream bucket, in tokens, refilled at perMS per millisecond up to burst. Its
	// clock only moves forward: a request that arrives with an earlier time (its body was slow)
	// refills nothing, rather than winding the bucket back and being credited the time again.
	tokens, perMS, burst float64
	last                 int64
}

type streamEntry struct {
	key  uint64
	seen int64 // unix ms
}

func newStreamAdmission(maxStreams int, idle time.Duration, perMinute int) *streamAdmission {
	return &streamAdmission{seed: maphash.MakeSeed(), max: maxStreams, idleMS: idle.Milliseconds(), m: map[uint64]*list.Element{},
		tokens: float64(perMinute), perMS: float64(perMinute) / 60_000, burst: float64(perMinute)}
}

// admit reports whether an event for stream, received at now (unix ms), may pass.
func (a *streamAdmission) admit(stream []byte, now int64) bool {
	k := maphash.Bytes(a.seed, stream)
	a.mu.Lock()
	defer a.mu.Unlock()
	if el, ok := a.m[k]; ok {
		e := el.Value.(*streamEntry)
		e.seen = max(e.seen, now)
		a.lru.MoveToFront(el)
		return true
	}
	// Streams idle for longer than idle leave from the back.
	for el := a.lru.Back(); el != nil && now-el.Value.(*streamEntry).seen > a.idleMS; el = a.lru.Back() {
		delete(a.m, el.Value.(*streamEntry).key)
		a.lru.Remove(el)
	}
	if len(a.m) >= a.max {
		return false
	}
	if now > a.last {
		a.tokens = min(a.burst, a.tokens+float64(now-a.last)*a.perMS)
		a.last = now
	}
	if a.tokens < 1 {
		return false
	}
	a.tokens--
	a.m[k] = a.lru.PushFront(&streamEntry{key: k, seen: now})
	return true
}

func (a *streamAdmission) size() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.m)
}
