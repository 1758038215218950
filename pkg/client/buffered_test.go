package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint("e", i))
	}
	return out
}

func numbered(from, to int) []Event {
	var out []Event
	for _, id := range ids(from, to) {
		out = append(out, Event{EventID: id, Type: "heartbeat", StreamID: "s", ListenerID: "u", TS: 1, PlayedMS: Int(10000)})
	}
	return out
}

// outageClient is a Client for s that gives a batch back to its Buffered at the first 503.
func outageClient(s *stubCollector, batch int) *Client {
	c := New(s.ts.URL, "tok")
	c.BatchSize = batch
	c.MaxRetries = 0
	c.MinBackoff, c.MaxBackoff = time.Millisecond, 20*time.Millisecond
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestBufferedKeepsEverythingInOrderThroughAnOutage: events added while the collector answers
// 503 reach it, once it is back, all of them, once each, in the order they were added.
func TestBufferedKeepsEverythingInOrderThroughAnOutage(t *testing.T) {
	s := newStub(t)
	s.retryAfter = ""
	s.setDown(true)
	b := NewBuffered(outageClient(s, 7), 100)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { b.Run(ctx) })
	for i := 0; i < 60; i += 6 {
		b.Add(numbered(i, i+6)...)
		time.Sleep(3 * time.Millisecond)
	}
	waitFor(t, "retries during the outage", func() bool { return len(s.seen()) >= 10 })
	s.setDown(false)
	waitFor(t, "the backlog", func() bool { return b.Stats().Queued == 0 })
	cancel()
	wg.Wait()
	if got := s.accepted(); !slices.Equal(got, ids(0, 60)) {
		t.Fatalf("collector accepted %v", got)
	}
	if st := b.Stats(); st.Deferred == 0 || st != (BufferStats{Accepted: 60, Deferred: st.Deferred}) {
		t.Fatalf("stats %+v: the batches kept through the outage count as deferred", st)
	}
	for _, a := range s.seen() {
		if len(a.ids) == 0 || len(a.ids) > 7 {
			t.Fatalf("a request of %d events, batches are at most 7", len(a.ids))
		}
	}
}

// TestBufferedDropsTheOldestOverTheBound: beyond the bound the oldest waiting events go, and a
// batch the collector could not take is the oldest when it comes back.
func TestBufferedDropsTheOldestOverTheBound(t *testing.T) {
	s := newStub(t)
	s.setDown(true)
	b := NewBuffered(outageClient(s, 4), 10)
	b.Add(numbered(0, 14)...)
	if st := b.Stats(); st.Queued != 10 || st.Dropped != 4 {
		t.Fatalf("after 14 events in a queue of 10: %+v", st)
	}
	var re *RetryableError
	if err := b.Flush(context.Background()); !errors.As(err, &re) {
		t.Fatalf("flush during the outage: %v", err)
	}
	if st := b.Stats(); st.Queued != 10 || st.Dropped != 4 {
		t.Fatalf("after a failed flush: %+v", st)
	}
	// While e4..e7 are being sent, four more arrive: the queue holds e8..e17 waiting, and when the
	// batch comes back it is the oldest, so it goes.
	hold := make(chan struct{})
	s.mu.Lock()
	s.hold = hold
	s.mu.Unlock()
	done := make(chan error)
	go func() { done <- b.Flush(context.Background()) }()
	waitFor(t, "the batch in flight", func() bool { return len(s.seen()) == 2 })
	b.Add(numbered(14, 18)...)
	if st := b.Stats(); st.Queued != 14 || st.Dropped != 4 {
		t.Fatalf("with a batch in flight: %+v", st)
	}
	close(hold)
	if err := <-done; !errors.As(err, &re) {
		t.Fatalf("flush during the outage: %v", err)
	}
	if st := b.Stats(); st.Queued != 10 || st.Dropped != 8 {
		t.Fatalf("after the batch came back: %+v", st)
	}
	s.setDown(false)
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.accepted(); !slices.Equal(got, ids(8, 18)) {
		t.Fatalf("collector accepted %v, want e8..e17", got)
	}
	if st := b.Stats(); st.Deferred == 0 || st != (BufferStats{Accepted: 10, Dropped: 8, Deferred: st.Deferred}) {
		t.Fatalf("stats %+v", st)
	}
}

// TestBufferedStampsEveryAttempt: every attempt, first or not, is stamped with the clock at that
// attempt, however long its events waited.
func TestBufferedStampsEveryAttempt(t *testing.T) {
	s := newStub(t)
	s.retryAfter = ""
	s.setDown(true)
	c := outageClient(s, 3)
	c.MaxRetries = 1
	var mu sync.Mutex
	var stamps []int64
	clock := time.Date(2029, 5, 6, 7, 8, 9, 0, time.UTC)
	c.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(17 * time.Minute) // far more than any real gap, so a stale stamp shows
		stamps = append(stamps, clock.UnixMilli())
		return clock
	}
	b := NewBuffered(c, 100)
	b.Add(numbered(0, 5)...)
	for range 3 {
		if err := b.Flush(context.Background()); err == nil {
			t.Fatal("flush succeeded during the outage")
		}
	}
	s.setDown(false)
	if err := b.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := s.seen()
	// 3 failed flushes of 2 attempts each, then two batches.
	if len(seen) != 8 || len(stamps) != 8 {
		t.Fatalf("%d requests, %d clock readings; want 8 of each", len(seen), len(stamps))
	}
	for i, a := range seen {
		for j, sent := range a.sentAt {
			if sent != stamps[i] {
				t.Fatalf("request %d, event %s: sent_at %d, want %d (the clock at that attempt)", i, a.ids[j], sent, stamps[i])
			}
		}
	}
	if got := s.accepted(); !slices.Equal(got, ids(0, 5)) {
		t.Fatalf("collector accepted %v", got)
	}
}

// TestBufferedHonoursRetryAfter: Run waits the collector's Retry-After between attempts, even
// with a far shorter back-off.
func TestBufferedHonoursRetryAfter(t *testing.T) {
	s := newStub(t)
	s.retryAfter = "1"
	s.setDown(true)
	b := NewBuffered(outageClient(s, 10), 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { b.Run(ctx) })
	b.Add(numbered(0, 3)...)
	waitFor(t, "three attempts", func() bool { return len(s.seen()) >= 3 })
	s.setDown(false)
	waitFor(t, "delivery", func() bool { return b.Stats().Accepted == 3 })
	cancel()
	wg.Wait()
	seen := s.seen()
	for i := 1; i < len(seen); i++ {
		if gap := seen[i].at.Sub(seen[i-1].at); gap < 990*time.Millisecond {
			t.Fatalf("attempt %d came %v after a 503 with Retry-After: 1", i, gap)
		}
	}
}

// TestBufferedFinalAnswers: a batch answered with a status that would fail again leaves the
// queue as rejected, and the next batch is sent.
func TestBufferedFinalAnswers(t *testing.T) {
	s := newStub(t, http.StatusBadRequest)
	b := NewBuffered(outageClient(s, 2), 100)
	b.Add(numbered(0, 3)...)
	var se *StatusError
	if err := b.Flush(context.Background()); !errors.As(err, &se) || se.Status != http.StatusBadRequest {
		t.Fatalf("flush: %v", err)
	}
	if st := b.Stats(); st != (BufferStats{Accepted: 1, Rejected: 2}) {
		t.Fatalf("stats %+v", st)
	}
	if got := s.accepted(); !slices.Equal(got, []string{"e2"}) {
		t.Fatalf("collector accepted %v", got)
	}
}
