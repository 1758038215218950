package replay

import (
	"context"
	"maps"
	"slices"
	"sync"
)

// ledger tracks the batches between the reader and the acknowledged prefix of the input: the
// low-water mark. Batches are numbered in input order and acknowledged in any order (requests
// run in parallel and some are retried); the mark advances over a batch only when it and every
// earlier batch were acknowledged, so everything before the mark is safe to skip on resume.
//
// At most `window` batches are out between the mark and the reader: a batch stuck in retries
// then stops the reader rather than letting acknowledged-but-unrecorded work pile up behind it,
// which bounds both the memory and what a crash makes a resumed run send again.
//
// It is safe for concurrent use.
type ledger struct {
	window chan struct{} // a slot per batch handed out and not yet behind the mark

	mu      sync.Mutex
	seq     int64            // number of the next batch handed out
	next    int64            // number of the first batch not behind the mark
	waiting map[int64]*batch // acknowledged, with an earlier batch not yet
	st      state            // the acknowledged prefix, as saved
	version int64            // counts changes of st, for the saver
	// live counts everything acknowledged, behind the mark or not, on top of the prefix that
	// earlier runs recorded (base); streams likewise.
	live    tally
	base    tally
	streams map[string]int64
}

func newLedger(st state, window int) *ledger {
	return &ledger{window: make(chan struct{}, window), waiting: map[int64]*batch{}, st: st,
		live: st.Totals.clone(), base: st.Totals.clone(), streams: maps.Clone(st.Streams)}
}

// reserve numbers b and takes a slot for it, waiting while the window is full; false if ctx
// ended first.
func (l *ledger) reserve(ctx context.Context, b *batch) bool {
	select {
	case l.window <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	l.mu.Lock()
	b.seq = l.seq
	l.seq++
	l.mu.Unlock()
	return true
}

// acknowledged records b as answered (its tally filled) and moves the mark over every batch
// acknowledged in a row from it.
func (l *ledger) acknowledged(b *batch) {
	l.mu.Lock()
	l.live.add(&b.t)
	mergeStreams(&l.streams, b.streams)
	b.events, b.eventLine = nil, nil // not needed any more; the batch may wait a while
	l.waiting[b.seq] = b
	freed := 0
	for {
		w, ok := l.waiting[l.next]
		if !ok {
			break
		}
		delete(l.waiting, l.next)
		l.next++
		freed++
		l.st.Offset, l.st.Line = w.end, w.lastLine
		l.st.Totals.add(&w.t)
		mergeStreams(&l.st.Streams, w.streams)
	}
	if freed > 0 {
		l.version++
	}
	l.mu.Unlock()
	for range freed {
		<-l.window
	}
}

func mergeStreams(dst *map[string]int64, src map[string]int64) {
	if *dst == nil {
		*dst = map[string]int64{}
	}
	for id, ts := range src {
		if old, ok := (*dst)[id]; !ok || ts > old {
			(*dst)[id] = ts
		}
	}
}

// snapshot returns a copy of the acknowledged prefix and its version.
func (l *ledger) snapshot() (state, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.st
	st.Totals = l.st.Totals.clone()
	st.Streams = maps.Clone(l.st.Streams)
	st.Closed = slices.Clone(l.st.Closed)
	return st, l.version
}

// counts returns the live counts without their maps and lists, and those of earlier runs.
func (l *ledger) counts() (live, base tally) {
	l.mu.Lock()
	defer l.mu.Unlock()
	live, base = l.live, l.base
	live.RejectedByReason, live.MalformedByReason, live.MalformedLines, live.RejectedLines = nil, nil, nil, nil
	base.RejectedByReason, base.MalformedByReason, base.MalformedLines, base.RejectedLines = nil, nil, nil, nil
	return live, base
}

// totals returns copies of the live counts, the streams seen and the streams closed.
func (l *ledger) totals() (tally, map[string]int64, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.live.clone(), maps.Clone(l.streams), slices.Clone(l.st.Closed)
}

// open returns the streams of the acknowledged prefix that were not closed, with their newest
// event time.
func (l *ledger) open() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int64{}
	for id, ts := range l.st.Streams {
		if _, found := slices.BinarySearch(l.st.Closed, id); !found {
			out[id] = ts
		}
	}
	return out
}

// closed records that the collector accepted the end of stream id.
func (l *ledger) closed(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i, found := slices.BinarySearch(l.st.Closed, id); !found {
		l.st.Closed = slices.Insert(l.st.Closed, i, id)
		l.version++
	}
}
