package collector

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter keeps a token bucket per client address (limits.ip_requests_per_second,
// limits.ip_burst), at most max of them. When the table is full the least recently seen
// address is forgotten: a busy or blocked address stays, while an address quiet for longest
// starts over with a full burst when it comes back. (Clearing the whole table instead gave
// every blocked address its burst back whenever enough new addresses appeared.) Safe for
// concurrent use.
type ipLimiter struct {
	mu    sync.Mutex
	r     rate.Limit
	burst int
	max   int
	m     map[string]*list.Element
	lru   list.List // of *ipEntry, most recently seen first
}

type ipEntry struct {
	key string
	l   *rate.Limiter
}

func newIPLimiter(r rate.Limit, burst, maxEntries int) *ipLimiter {
	return &ipLimiter{r: r, burst: burst, max: maxEntries, m: map[string]*list.Element{}}
}

// allow takes one request of the address key at now and reports whether it is within the limit.
func (l *ipLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.m[key]
	switch {
	case ok:
		l.lru.MoveToFront(el)
	case len(l.m) >= l.max:
		// Reuse the least recently seen entry for the new address.
		el = l.lru.Back()
		e := el.Value.(*ipEntry)
		delete(l.m, e.key)
		e.key, e.l = key, rate.NewLimiter(l.r, l.burst)
		l.m[key] = el
		l.lru.MoveToFront(el)
	default:
		el = l.lru.PushFront(&ipEntry{key: key, l: rate.NewLimiter(l.r, l.burst)})
		l.m[key] = el
	}
	return el.Value.(*ipEntry).l.AllowN(now, 1)
}

func (l *ipLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
