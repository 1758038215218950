package replay

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"

	"github.com/earshot/earshot/pkg/client"
)

// batch is a run of consecutive input lines, ending at uncompressed offset end, and the events
// among them that go in one request. Lines that are not sent (blank, malformed, held-back
// ends) belong to a batch too, so that the acknowledged prefix covers them: a batch is
// acknowledged when the collector answered its request, or at once if it has no events.
type batch struct {
	seq       int64
	end       int64 // offset after the batch's last line
	lastLine  int64 // number of the batch's last line
	bytes     int   // of its lines
	events    []client.Event
	eventLine []LineError      // Line and Offset of each event, for the collector's rejections
	streams   map[string]int64 // newest ts of each stream among its valid events and held ends
	// t counts the batch: lines, malformed lines and held ends when read; the collector's
	// answer when acknowledged.
	t tally
}

// add appends a judged line.
func (b *batch) add(l *line) {
	b.end, b.lastLine = l.end, l.num
	b.bytes += int(l.end - l.start)
	b.t.Lines++
	switch l.kind {
	case kindEvent, kindEnd:
		if b.streams == nil {
			b.streams = map[string]int64{}
		}
		if ts, ok := b.streams[l.ev.StreamID]; !ok || l.ev.TS > ts {
			b.streams[l.ev.StreamID] = l.ev.TS
		}
		if l.kind == kindEnd {
			b.t.InputEnds++
			return
		}
		b.events = append(b.events, l.ev)
		b.eventLine = append(b.eventLine, LineError{Line: l.num, Offset: l.start})
	case kindBad:
		b.t.malformed(l.bad)
	}
}

// fits reports whether a line of n bytes may join b: a batch holds at most maxEvents events and
// maxBytes of lines, but always at least one line.
func (b *batch) fits(n int64, maxEvents, maxBytes int) bool {
	return b.t.Lines == 0 || len(b.events) < maxEvents && b.bytes+int(n) <= maxBytes
}

// read cuts the input into batches and hands them out: those with events to the senders on
// work, the others straight to the ledger. It stops at the end of the input, at ctx's end, or
// at a read error, which it returns after handing out the complete lines before it.
func (r *run) read(ctx context.Context, work chan<- *batch) error {
	b := &batch{}
	var l line
	for {
		err := r.in.next(&l)
		if err != nil {
			if b.t.Lines > 0 {
				r.dispatch(ctx, b, work)
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		r.meter.lines.Add(1)
		if !b.fits(l.end-l.start, r.opts.BatchEvents, r.opts.BatchBytes) {
			if !r.dispatch(ctx, b, work) {
				return nil
			}
			b = &batch{}
		}
		b.add(&l)
	}
}

// dispatch hands b out once the ledger has room for it; false when ctx ended first.
func (r *run) dispatch(ctx context.Context, b *batch, work chan<- *batch) bool {
	if !r.ledger.reserve(ctx, b) {
		return false
	}
	if len(b.events) == 0 {
		r.ledger.acknowledged(b)
		return true
	}
	select {
	case work <- b:
		return true
	case <-ctx.Done():
		return false
	}
}

// tally counts lines and events. The ledger keeps two: the acknowledged prefix's (saved in the
// state file) and everything answered.
type tally struct {
	Lines     int64 `json:"lines"`
	Sent      int64 `json:"sent"`
	Accepted  int64 `json:"accepted"`
	Rejected  int64 `json:"rejected"`
	Malformed int64 `json:"malformed"`
	InputEnds int64 `json:"input_ends"`
	// Retries counts pkg/client's retried attempts (429, 503, network errors).
	Retries           int64            `json:"retries"`
	RejectedByReason  map[string]int64 `json:"rejected_by_reason,omitempty"`
	MalformedByReason map[string]int64 `json:"malformed_by_reason,omitempty"`
	// The first maxListed lines of each kind, in input order.
	MalformedLines []LineError `json:"malformed_lines,omitempty"`
	RejectedLines  []LineError `json:"rejected_lines,omitempty"`
}

func (t *tally) malformed(e LineError) {
	t.Malformed++
	t.MalformedByReason = addCount(t.MalformedByReason, e.Reason, 1)
	t.MalformedLines = appendFirst(t.MalformedLines, e)
}

func (t *tally) rejected(reason string, n int64) {
	t.Rejected += n
	t.RejectedByReason = addCount(t.RejectedByReason, reason, n)
}

// add adds u to t.
func (t *tally) add(u *tally) {
	t.Lines += u.Lines
	t.Sent += u.Sent
	t.Accepted += u.Accepted
	t.Rejected += u.Rejected
	t.Malformed += u.Malformed
	t.InputEnds += u.InputEnds
	t.Retries += u.Retries
	for k, n := range u.RejectedByReason {
		t.RejectedByReason = addCount(t.RejectedByReason, k, n)
	}
	for k, n := range u.MalformedByReason {
		t.MalformedByReason = addCount(t.MalformedByReason, k, n)
	}
	t.MalformedLines = appendFirst(t.MalformedLines, u.MalformedLines...)
	t.RejectedLines = appendFirst(t.RejectedLines, u.RejectedLines...)
}

// clone returns a deep copy of t.
func (t *tally) clone() tally {
	var c tally
	c.add(t)
	return c
}

func addCount(m map[string]int64, k string, n int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[k] += n
	return m
}

// appendFirst keeps the first maxListed lines of list and more, by line number: batches are
// answered out of order.
func appendFirst(list []LineError, more ...LineError) []LineError {
	if len(more) == 0 {
		return list
	}
	list = append(list, more...)
	if !slices.IsSortedFunc(list, byLine) {
		slices.SortFunc(list, byLine)
	}
	if len(list) > maxListed {
		list = slices.Clip(list[:maxListed])
	}
	return list
}

func byLine(a, b LineError) int { return cmp.Compare(a.Line, b.Line) }
