package replay

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/earshot/earshot/pkg/client"
)

// reasonUnlisted counts rejections a collector answer counted but did not list by reason.
const reasonUnlisted = "unlisted"

// sendLoop sends the batches from work until work is closed or ctx ends. A batch that cannot be
// sent for good stops the replay (fail): the batches after it could be sent, but the mark could
// not pass it, and a resumed run would send them again anyway.
func (r *run) sendLoop(ctx context.Context, fail func(error), work <-chan *batch) {
	for {
		select {
		case <-ctx.Done():
			return
		case b, ok := <-work:
			if !ok {
				return
			}
			if err := r.send(ctx, b); err != nil {
				if ctx.Err() == nil {
					fail(err)
				}
				return
			}
		}
	}
}

// send posts b's events through pkg/client, which gzips the body and retries 429, 503 and
// network errors (with back-off, honouring Retry-After), and acknowledges b with the answer.
func (r *run) send(ctx context.Context, b *batch) error {
	res, err := judged(r.client.SendBatch(ctx, b.events))
	switch {
	case ctx.Err() != nil:
		// Unanswered, or answered too late to count: not acknowledged, so sent again on resume.
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("cannot send lines %d–%d: %w", b.eventLine[0].Line, b.lastLine, err)
	}
	b.t.Sent = int64(len(b.events))
	b.t.Accepted = int64(res.Accepted)
	b.t.Retries = int64(res.Retries)
	countRejections(&b.t, res, b.eventLine)
	r.ledger.acknowledged(b)
	return nil
}

// judged turns an answer that judged every event one by one into a Result, whatever its
// status: 400 (no valid event) and 403 (every event one the token may not send) with
// rejections are such answers, and retrying them would fail again. Anything else that is not
// a 200 is a failure of the whole request.
func judged(res client.Result, err error) (client.Result, error) {
	var re *client.RetryableError
	var se *client.StatusError
	if err != nil && !errors.As(err, &re) && errors.As(err, &se) && se.Body.Rejected > 0 &&
		(se.Status == http.StatusBadRequest || se.Status == http.StatusForbidden) {
		return se.Body, nil
	}
	return res, err
}

// countRejections adds the collector's rejections to t, by reason, and lists their lines
// (lines[i] is the line of the request's event i). A reply lists at most limits.max_reply_errors
// rejections; it then counts all of them in ErrorCounts.
func countRejections(t *tally, res client.Result, lines []LineError) {
	var listed []LineError
	for _, e := range res.Errors {
		if e.Index >= 0 && e.Index < len(lines) {
			l := lines[e.Index]
			l.Reason, l.Message = e.Reason, e.Message
			listed = append(listed, l)
		}
	}
	t.RejectedLines = appendFirst(t.RejectedLines, listed...)
	counted := 0
	if res.ErrorsTruncated && len(res.ErrorCounts) > 0 {
		for reason, n := range res.ErrorCounts {
			t.rejected(reason, int64(n))
			counted += n
		}
	} else {
		for _, e := range res.Errors {
			t.rejected(e.Reason, 1)
			counted++
		}
	}
	if rest := res.Rejected - counted; rest > 0 {
		t.rejected(reasonUnlisted, int64(rest))
	}
}
