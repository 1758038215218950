package client

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Buffered sends a player's events through a Client and keeps them through collector outages.
//
// Add queues events and never blocks. Flush, or Run in the background, sends the queue oldest
// first in batches of Client.BatchSize, each with the Client's retries. A batch the collector
// cannot take even then (429, 503, network errors: a *RetryableError) goes back to the head of
// the queue and is sent again later, with the sent_at of that later attempt, so its events keep
// their real time at the collector, up to its limits.max_event_age (30 min; older events are
// rejected ts_too_old). Order is kept: events leave in the order they were added.
//
// At most maxEvents events wait, plus the batch being sent; past that the oldest are dropped and
// counted (BufferStats.Dropped). A player sends about 7 events a minute, so 1 000 bridges more
// than the 30 minutes the collector would accept.
//
// A batch the collector answers for good (200, which may reject single events, or a status that
// would fail again: 400, 401, 403, 413) leaves the queue; the events it rejected are counted
// (BufferStats.Rejected). A batch may reach the collector twice (an answer lost on the way
// back): the aggregator counts each event once.
type Buffered struct {
	c    *Client
	max  int
	wake chan struct{} // holds a signal while events wait for Run
	send sync.Mutex    // one Flush at a time, so batches leave in order

	mu      sync.Mutex
	queue   []Event // waiting, oldest first
	sending int     // events in the batch being sent
	stats   BufferStats
}

// BufferStats counts what became of the events given to a Buffered.
type BufferStats struct {
	// Queued events have no answer yet: waiting, or in the batch being sent.
	Queued int
	// Accepted and Rejected events were answered by the collector.
	Accepted, Rejected int64
	// Dropped events were the oldest when the queue was full, and never sent for good.
	Dropped int64
	// Deferred counts batches the collector could not take (after the Client's retries) that
	// went back to the queue to be sent later: the outages a player bridged.
	Deferred int64
}

// NewBuffered returns a Buffered that sends through c and keeps at most maxEvents (> 0) events
// waiting. Set c.MaxRetries low (Run keeps retrying anyway) so a batch comes back to the queue
// quickly during an outage.
func NewBuffered(c *Client, maxEvents int) *Buffered {
	if maxEvents <= 0 {
		panic("client.NewBuffered: maxEvents must be positive")
	}
	return &Buffered{c: c, max: maxEvents, wake: make(chan struct{}, 1)}
}

// Add queues events (copies of the structs: what their pointers point to must not change) and
// drops the oldest waiting events beyond the bound.
func (b *Buffered) Add(events ...Event) {
	b.mu.Lock()
	b.queue = append(b.queue, events...)
	b.trim()
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Flush sends the queued events, including those added meanwhile, until none are left or the
// collector cannot take a batch now. That batch then goes back to the head of the queue, and
// Flush returns the *RetryableError (or ctx's error). A batch answered with a final error is
// counted as rejected and Flush goes on; it returns the last such error.
func (b *Buffered) Flush(ctx context.Context) error {
	b.send.Lock()
	defer b.send.Unlock()
	var final error
	for {
		batch := b.take()
		if len(batch) == 0 {
			return final
		}
		r, err := b.c.SendBatch(ctx, batch)
		var re *RetryableError
		switch {
		case err == nil:
			b.done(int64(r.Accepted), int64(r.Rejected))
		case errors.As(err, &re) || ctx.Err() != nil:
			b.putBack(batch)
			return err
		default:
			b.done(0, int64(len(batch)))
			final = err
		}
	}
}

// Run flushes whenever events wait, until ctx ends. After a batch the collector could not
// take, it waits (exponential back-off from Client.MinBackoff to MaxBackoff with jitter, and at
// least the collector's Retry-After) and flushes again; Add goes on queueing meanwhile.
func (b *Buffered) Run(ctx context.Context) {
	backoff := b.c.MinBackoff
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		}
		for {
			var re *RetryableError
			if err := b.Flush(ctx); !errors.As(err, &re) {
				backoff = b.c.MinBackoff
				break
			}
			wait := max(jitter(backoff), re.RetryAfter)
			backoff = min(backoff*2, b.c.MaxBackoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// Stats returns the counts so far.
func (b *Buffered) Stats() BufferStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.Queued = len(b.queue) + b.sending
	return s
}

// take moves the next batch out of the queue.
func (b *Buffered) take() []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(max(b.c.BatchSize, 1), len(b.queue))
	batch := slices.Clone(b.queue[:n])
	clear(b.queue[:n]) // let the queue's array forget what it no longer holds
	b.queue = b.queue[n:]
	b.sending = n
	return batch
}

// putBack returns a batch the collector could not take to the head of the queue; beyond the
// bound its events are the oldest and are dropped first.
func (b *Buffered) putBack(batch []Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue = slices.Concat(batch, b.queue)
	b.sending = 0
	b.stats.Deferred++
	b.trim()
}

// done counts the answer to the batch being sent.
func (b *Buffered) done(accepted, rejected int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats.Accepted += accepted
	b.stats.Rejected += rejected
	b.sending = 0
}

// trim drops the oldest waiting events beyond the bound. b.mu is held.
func (b *Buffered) trim() {
	over := len(b.queue) - b.max
	if over <= 0 {
		return
	}
	clear(b.queue[:over])
	b.queue = b.queue[over:]
	b.stats.Dropped += int64(over)
}
