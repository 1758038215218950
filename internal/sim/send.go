package sim

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/pkg/event"
)

// SendResult summarizes a Send.
type SendResult struct {
	Requests, Accepted, Rejected, Retries int
}

// Send posts the stream's batches through c as its clients would, one heartbeat interval after
// another: the batches sent within one interval concurrently (up to `parallel` in flight),
// intervals in order (late batches in the interval they are sent in). It stops at the first
// batch that fails for good; when every batch went through, it ends the stream.
func Send(ctx context.Context, c *client.Client, st *Stream, parallel int) (SendResult, error) {
	return SendPaced(ctx, c, st, parallel, 0)
}

// SendPaced is Send in stream time sped up by speed: a batch goes when (its send time − the
// first batch's) / speed has passed on the wall clock, so a 75-minute stream at speed 60 takes
// 75 seconds and a live view sees its minutes fill in; speed 0 sends as fast as the collector
// answers.
func SendPaced(ctx context.Context, c *client.Client, st *Stream, parallel int, speed float64) (SendResult, error) {
	return SendBatches(ctx, []Sender{c}, st.Scenario.StreamID, st.Scenario.Heartbeat, st.All(), parallel, speed)
}

// All yields the stream's batches in send order, as a Generator does.
func (st *Stream) All() iter.Seq[Batch] {
	return func(yield func(Batch) bool) {
		for i, b := range st.Batches {
			if !yield(Batch{At: st.SendAt[i], Events: b}) {
				return
			}
		}
	}
}

// Sender posts one batch and answers as a collector does: a client.Client over HTTP, or a
// collector without HTTP writing to Kafka (collector.Direct).
type Sender interface {
	SendBatch(ctx context.Context, events []client.Event) (client.Result, error)
}

// SendBatches sends batches in order through the clients (round robin: several collectors),
// up to parallel requests in flight. A heartbeat interval's batches all succeed before the
// next interval's are sent, as clients that post once per interval do; with speed > 0 a batch
// waits until (its send time − the first's) / speed has passed on the wall clock. It stops at
// the first batch that fails for good; when every batch went through, it ends the stream.
func SendBatches(ctx context.Context, cs []Sender, streamID string, heartbeat time.Duration, batches iter.Seq[Batch],
	parallel int, speed float64) (SendResult, error) {
	var res SendResult
	var accepted, rejected, retries, requests atomic.Int64
	var firstErr error
	var errOnce sync.Once
	failed := make(chan struct{})
	fail := func(err error) { errOnce.Do(func() { firstErr = err; close(failed) }) }
	interval := max(1, heartbeat.Milliseconds())
	sem := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	var wallStart time.Time
	first, cur, last := int64(0), int64(-1<<62), int64(-1<<62)
	n := 0
	// flush waits for the batches in flight; false when one failed or ctx ended.
	flush := func() bool {
		wg.Wait()
		return !stopped(failed, ctx)
	}
	for b := range batches {
		if n == 0 {
			wallStart, first = time.Now(), b.At
		}
		if k := b.At / interval; k != cur {
			if !flush() {
				break
			}
			cur = k
		}
		if speed > 0 {
			due := wallStart.Add(time.Duration(float64(b.At-first) / speed * float64(time.Millisecond)))
			select {
			case <-ctx.Done():
			case <-failed:
			case <-time.After(time.Until(due)):
			}
		}
		for _, e := range b.Events {
			last = max(last, e.TS)
		}
		c := cs[n%len(cs)]
		i := n
		n++
		// A failure or cancellation stops the sending before the next batch: checked first, as
		// a select would pick a free slot over a closed channel at random.
		if stopped(failed, ctx) {
			break
		}
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = true
		case <-failed:
		case <-ctx.Done():
		}
		if !acquired {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r, err := c.SendBatch(ctx, b.Events)
			requests.Add(1)
			accepted.Add(int64(r.Accepted))
			rejected.Add(int64(r.Rejected))
			retries.Add(int64(r.Retries))
			if err == nil && r.Rejected > 0 {
				err = fmt.Errorf("batch %d: %d events rejected, first: %+v", i, r.Rejected, r.Errors[0])
			}
			if err != nil {
				fail(err)
			}
		})
	}
	ok := flush()
	res.Requests, res.Accepted, res.Rejected, res.Retries = int(requests.Load()), int(accepted.Load()), int(rejected.Load()), int(retries.Load())
	if !ok {
		if firstErr != nil {
			return res, firstErr
		}
		return res, ctx.Err()
	}
	// The replay is over: its end makes every figure final at once (docs/time.md). Sent only
	// after every event was acknowledged, so nothing of the stream arrives after it.
	r, err := cs[0].SendBatch(ctx, []client.Event{endEvent(streamID, max(last, 0))})
	res.Requests++
	res.Retries += r.Retries
	if err == nil && r.Rejected > 0 {
		err = fmt.Errorf("the stream's end was rejected: %+v", r.Errors[0])
	}
	return res, err
}

// stopped says whether a batch failed or ctx ended.
func stopped(failed <-chan struct{}, ctx context.Context) bool {
	select {
	case <-failed:
		return true
	default:
		return ctx.Err() != nil
	}
}

// End is the event that ends the stream: after its last event.
func (st *Stream) End() client.Event {
	var last int64
	for _, b := range st.Batches {
		for _, e := range b {
			last = max(last, e.TS)
		}
	}
	return endEvent(st.Scenario.StreamID, last)
}

// endEvent ends streamID after its last event at last (unix ms).
func endEvent(streamID string, last int64) client.Event {
	return client.Event{EventID: "end-" + streamID, Type: "end", StreamID: streamID, TS: last}
}

// Record converts a client event as a collector would, without HTTP: event time = ts (a
// trusted-time token's rule), flags as given (muted added), listeners keyed by a plain hash of
// their id — the session code needs distinct uniform keys, not the collector's secret ones.
func Record(e *client.Event, flags uint8) event.Record {
	typ, _ := event.ParseType([]byte(e.Type))
	r := event.Record{Type: typ, Flags: flags, Fingerprint: event.Fingerprint([]byte(e.EventID)), EventTime: e.TS, ReceivedAt: e.TS,
		StreamID: []byte(e.StreamID), ErrorCode: []byte(e.ErrorCode)}
	if e.PlayedMS != nil {
		r.PlayedMS = uint32(*e.PlayedMS)
	}
	if e.DisplayedCount != nil {
		r.DisplayedCount = uint64(*e.DisplayedCount)
	}
	if e.Muted {
		r.Flags |= event.FlagMuted
	}
	if typ == event.TypeDisplayed {
		r.Listener = xxhash.Sum64String(e.StreamID)
	} else {
		r.Listener = xxhash.Sum64String(e.ListenerID)
	}
	return r
}
