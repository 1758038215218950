package replay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/earshot/earshot/pkg/client"
)

// closeBatch bounds the end events of one request. The collector lists at most
// limits.max_reply_errors (100) rejections by index, and an end is known to be accepted only
// if it is not listed.
const closeBatch = 100

// closeStreams ends every stream of the input not yet closed, once every line was acknowledged:
// an end event per stream, as a trusted_time token ends a replayed stream (docs/time.md,
// docs/operations.md: "send it after its last events were acknowledged"). The collector writes
// an end to every partition, and each aggregator partition then makes all of the stream's
// figures final at once; events of it arriving later count as too late. An end that arrives
// twice (a resumed close) closes nothing more.
//
// The end's ts is the stream's newest event time, as `earshot simulate` sends it, but never
// after now: the collector rejects ends from the future like any event (ts_in_future), and the
// aggregator closes the stream whatever the end's time.
func (r *run) closeStreams(ctx context.Context) (err error) {
	// The state records the streams closed so far even when closing stops half-way, so that the
	// next run sends only the ends still missing.
	defer func() {
		if serr := r.save(); err == nil {
			err = serr
		}
	}()
	open := r.ledger.open()
	ids := make([]string, 0, len(open))
	for id := range open {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	now := time.Now().UnixMilli()
	var failed []string
	var first string
	for chunk := range slices.Chunk(ids, closeBatch) {
		ends := make([]client.Event, len(chunk))
		for i, id := range chunk {
			ends[i] = client.Event{EventID: endID(id), Type: "end", StreamID: id, TS: min(open[id], now)}
		}
		res, err := judged(r.client.SendBatch(ctx, ends))
		if err != nil {
			return fmt.Errorf("cannot close the replayed streams: %w", err)
		}
		rejected := map[int]string{}
		for _, e := range res.Errors {
			rejected[e.Index] = e.Reason
		}
		for i, id := range chunk {
			reason, bad := rejected[i]
			switch {
			case bad:
				failed = append(failed, id)
				if first == "" {
					first = fmt.Sprintf("stream %q: %s", id, reason)
				}
			case res.ErrorsTruncated || len(res.Errors) < res.Rejected:
				// Some rejections are not listed: this end may be one of them. It stays open in
				// the state, and is sent again by the next run (a second end changes nothing).
				failed = append(failed, id)
			default:
				r.ledger.closed(id)
			}
		}
	}
	if len(failed) > 0 {
		if first == "" {
			first = "rejections not listed by the collector"
		}
		return fmt.Errorf("%w: %d of %d ends were rejected (first: %s)", ErrNotClosed, len(failed), len(ids), first)
	}
	return nil
}

// endID is the event_id of stream id's end: the same in every run, so that a resumed close
// sends the same event again, and within the 64 bytes an event_id may have whatever the length
// of the stream id (≤ 128).
func endID(stream string) string {
	sum := sha256.Sum256([]byte(stream))
	return "earshot-replay-end-" + hex.EncodeToString(sum[:12])
}
