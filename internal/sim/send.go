package sim

import (
	"context"
	"fmt"
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
	var res SendResult
	var accepted, rejected, retries atomic.Int64
	wallStart := time.Now()
	for start := 0; start < len(st.Batches); {
		if speed > 0 {
			due := wallStart.Add(time.Duration(float64(st.SendAt[start]-st.SendAt[0]) / speed * float64(time.Millisecond)))
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
		end := start + 1
		for end < len(st.Batches) && end-start < parallel && st.SendAt[end]/st.interval() == st.SendAt[start]/st.interval() {
			end++
		}
		var wg sync.WaitGroup
		errs := make([]error, end-start)
		for i := start; i < end; i++ {
			wg.Go(func() {
				r, err := c.SendBatch(ctx, st.Batches[i])
				accepted.Add(int64(r.Accepted))
				rejected.Add(int64(r.Rejected))
				retries.Add(int64(r.Retries))
				if err == nil && r.Rejected > 0 {
					err = fmt.Errorf("batch %d: %d events rejected, first: %+v", i, r.Rejected, r.Errors[0])
				}
				errs[i-start] = err
			})
		}
		wg.Wait()
		res.Requests += end - start
		start = end
		for _, err := range errs {
			if err != nil {
				res.Accepted, res.Rejected, res.Retries = int(accepted.Load()), int(rejected.Load()), int(retries.Load())
				return res, err
			}
		}
	}
	res.Accepted, res.Rejected, res.Retries = int(accepted.Load()), int(rejected.Load()), int(retries.Load())
	// The replay is over: its end makes every figure final at once (docs/time.md). Sent only
	// after every event was acknowledged, so nothing of the stream arrives after it.
	r, err := c.SendBatch(ctx, []client.Event{st.End()})
	res.Requests++
	res.Retries += r.Retries
	if err == nil && r.Rejected > 0 {
		err = fmt.Errorf("the stream's end was rejected: %+v", r.Errors[0])
	}
	return res, err
}

func (st *Stream) interval() int64 { return max(1, st.Scenario.Heartbeat.Milliseconds()) }

// End is the event that ends the stream: after its last event.
func (st *Stream) End() client.Event {
	var last int64
	for _, b := range st.Batches {
		for _, e := range b {
			last = max(last, e.TS)
		}
	}
	return client.Event{EventID: "end-" + st.Scenario.StreamID, Type: "end", StreamID: st.Scenario.StreamID, TS: last}
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
