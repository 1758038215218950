package sim

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/earshot/earshot/pkg/client"
)

// SendResult summarizes a Send.
type SendResult struct {
	Requests, Accepted, Rejected, Retries int
}

// Send posts the stream's batches through c as its clients would, one heartbeat interval after
// another: the batches of one interval concurrently (up to `parallel` in flight), intervals in
// order, so event time arrives ordered to within one interval, far inside the aggregator's
// lateness. It stops at the first batch that fails for good.
func Send(ctx context.Context, c *client.Client, st *Stream, parallel int) (SendResult, error) {
	var res SendResult
	var accepted, rejected, retries atomic.Int64
	for start := 0; start < len(st.Batches); {
		end := start + 1
		for end < len(st.Batches) && end-start < parallel && st.SendAt[end] == st.SendAt[start] {
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
	return res, nil
}

// LastQuarter is the start (unix ms) of the quarter hour in which the stream's last session
// ends: once its AQH row exists, every figure of the stream is final.
func (st *Stream) LastQuarter() int64 {
	var last int64
	for _, p := range st.Plans {
		end := p.End
		if !p.Leaves {
			end += sessionTimeoutMS
		}
		last = max(last, end)
	}
	return quarterOf(last)
}
