// Package chsink writes the aggregator's output to ClickHouse: minute and quarter rows,
// listener-minute rows, raw events and checkpoints.
//
// Every write is idempotent: minute, quarter, listener, delivery and clock rows carry a
// deterministic key and a version (ReplacingMergeTree keeps the highest; a corrected row
// replaces the one before it), raw events are keyed by (stream, partition, offset),
// checkpoints and their chunks by (partition, slot) with the next offset as version
// (checkpoint.go). Re-processing the same Kafka
// offsets therefore changes no result, which is what lets the aggregator commit offsets only
// after these writes.
package chsink

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/sketch"
	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// MaxBatchRows bounds one insert: clickhouse-go builds the whole batch in memory before
// sending. 100 000 listener rows are ~4 MB.
const MaxBatchRows = 100_000

// Sink writes to one ClickHouse database.
type Sink struct {
	conn driver.Conn
}

// New returns a Sink on conn (tables must exist: `earshot migrate`).
func New(conn driver.Conn) *Sink { return &Sink{conn: conn} }

// RawEvent is one Kafka record with its position, for events_raw: the columns and no more. A
// flush holds about a second of every partition's records, longer while ClickHouse is slow; as
// a whole event.Record, whose byte slices kept the record's Kafka value alive, that was ~290
// bytes an event and a sixth of the aggregator's heap at 1.3M listeners (make bench-night).
type RawEvent struct {
	// Stream and ErrorCode are best shared between the events of a stream (see NewRawEvent).
	Stream, ErrorCode                     string
	Offset                                int64
	EventTime, ReceivedAt                 int64 // unix ms
	Listener, Fingerprint, DisplayedCount uint64
	PlayedMS, StalledMS                   uint32
	Partition                             uint16
	Type                                  event.Type
	Flags                                 uint8
}

// NewRawEvent is r at (partition, offset). intern returns a string equal to its argument:
// callers pass one that shares the strings of a stream's events, so a buffered event does not
// hold a copy of its stream id.
func NewRawEvent(partition uint16, offset int64, r *event.Record, intern func([]byte) string) RawEvent {
	e := RawEvent{Stream: intern(r.StreamID), Offset: offset, EventTime: r.EventTime, ReceivedAt: r.ReceivedAt,
		Listener: r.Listener, Fingerprint: r.Fingerprint, DisplayedCount: r.DisplayedCount, PlayedMS: r.PlayedMS,
		StalledMS: r.StalledMS, Partition: partition, Type: r.Type, Flags: r.Flags}
	if len(r.ErrorCode) > 0 {
		e.ErrorCode = intern(r.ErrorCode)
	}
	return e
}

// DeadLetter is a Kafka record the aggregator could not apply (dead_letters).
type DeadLetter struct {
	Topic          string
	Partition      uint16
	Offset         int64
	Reason, Detail string
	// Value is the record as it was in Kafka, up to MaxDeadLetterBytes.
	Value  []byte
	SeenAt time.Time
}

// MaxDeadLetterBytes bounds the record bytes kept with a dead letter: records are ~100 bytes,
// and a hostile one must not make a row as large as Kafka allows.
const MaxDeadLetterBytes = 4 << 10

// Batch is everything one flush writes.
type Batch struct {
	Minutes     []window.MinuteRow
	Quarters    []window.QuarterRow
	Listeners   window.ListenerRows
	Delivery    []window.DeliveryRow
	Clocks      []window.ClockRow
	Raw         []RawEvent
	DeadLetters []DeadLetter
	// Visible, if set, is called once the batch's figures (listener, minute, quarter and
	// delivery rows) are written: readers see them from then on, while its raw events and
	// clocks may still be on their way. It measures the delay from a minute's close to its
	// rows, which the raw events of every partition written with it are not part of.
	Visible func()
}

// Rows is the number of rows in b.
func (b *Batch) Rows() int {
	return len(b.Minutes) + len(b.Quarters) + len(b.Listeners.Rows) + len(b.Delivery) + len(b.Clocks) + len(b.Raw) +
		len(b.DeadLetters)
}

// Write inserts the batches, one insert per table for all of them (up to MaxBatchRows rows
// each): the aggregator writes the flushes of all its partitions together, since every insert
// is a request, a new part for ClickHouse to merge and, on the development engine, a turn
// behind one lock. Listener rows go before minute rows, so a reader who sees a minute also
// sees its distinct states; clock rows go last, so a reader who sees a stream's rows final up
// to a time sees those rows.
func (s *Sink) Write(ctx context.Context, bs ...*Batch) error {
	for _, w := range []func(context.Context, []*Batch) error{s.listeners, s.minutes, s.quarters, s.delivery} {
		if err := w(ctx, bs); err != nil {
			return err
		}
	}
	for _, b := range bs {
		if b.Visible != nil {
			b.Visible()
		}
	}
	for _, w := range []func(context.Context, []*Batch) error{s.raw, s.deadLetters, s.clocks} {
		if err := w(ctx, bs); err != nil {
			return err
		}
	}
	return nil
}

// insert writes the rows of one table from every batch: rows(b) is how many b has, appendRow
// appends b's row i.
func (s *Sink) insert(ctx context.Context, table string, bs []*Batch, rows func(*Batch) int,
	appendRow func(driver.Batch, *Batch, int) error) error {
	var batch driver.Batch
	n := 0
	send := func() error {
		err := batch.Send()
		batch, n = nil, 0
		if err != nil {
			return fmt.Errorf("cannot insert into %s: %w", table, err)
		}
		return nil
	}
	for _, b := range bs {
		for i := range rows(b) {
			if batch == nil {
				var err error
				if batch, err = s.conn.PrepareBatch(ctx, "INSERT INTO "+table); err != nil {
					return fmt.Errorf("cannot prepare insert into %s: %w", table, err)
				}
			}
			if err := appendRow(batch, b, i); err != nil {
				batch.Abort()
				return fmt.Errorf("cannot append to %s: %w", table, err)
			}
			if n++; n == MaxBatchRows {
				if err := send(); err != nil {
					return err
				}
			}
		}
	}
	if batch != nil {
		return send()
	}
	return nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (s *Sink) minutes(ctx context.Context, bs []*Batch) error {
	return s.insert(ctx, "minute_stats", bs, func(b *Batch) int { return len(b.Minutes) }, func(d driver.Batch, b *Batch, i int) error {
		r := &b.Minutes[i]
		return d.Append(r.Stream, r.Minute, r.Partition, r.Version, b2u(r.Final), b2u(r.Deleted),
			r.Connected.Value, r.Connected.Lo, r.Connected.Hi, b2u(r.Connected.Exact),
			r.Hearing.Value, r.Hearing.Lo, r.Hearing.Hi, b2u(r.Hearing.Exact),
			string(r.ConnectedSketch), string(r.HearingSketch), string(r.QualifiedSketch), uint8(sketch.Version), uint8(sketch.Precision),
			r.ConnectedPerSec, r.HearingPerSec,
			r.Joins, r.Leaves, r.Timeouts, r.Plays, r.StartFailures, r.Errors, r.ErrorsByCode,
			r.PlayedMS, r.MutedMS, r.StalledMS, r.Qualified,
			b2u(r.HasDisplayed), r.DisplayedMax, r.DisplayedLast, r.DisplayedLastAt, r.PlayedTrimmedMS)
	})
}

func (s *Sink) quarters(ctx context.Context, bs []*Batch) error {
	return s.insert(ctx, "quarter_stats", bs, func(b *Batch) int { return len(b.Quarters) }, func(d driver.Batch, b *Batch, i int) error {
		r := &b.Quarters[i]
		return d.Append(r.Stream, r.Quarter, r.Partition, r.Version, b2u(r.Final), b2u(r.Deleted), r.AQHPersons)
	})
}

func (s *Sink) listeners(ctx context.Context, bs []*Batch) error {
	return s.insert(ctx, "listener_minutes", bs, func(b *Batch) int { return len(b.Listeners.Rows) }, func(d driver.Batch, b *Batch, i int) error {
		r := &b.Listeners.Rows[i]
		return d.Append(b.Listeners.Streams[r.Stream], time.UnixMilli(r.Minute).UTC(), r.Listener, r.Flags, r.Version)
	})
}

func (s *Sink) delivery(ctx context.Context, bs []*Batch) error {
	return s.insert(ctx, "delivery_stats", bs, func(b *Batch) int { return len(b.Delivery) }, func(d driver.Batch, b *Batch, i int) error {
		r := &b.Delivery[i]
		return d.Append(r.Stream, r.Minute, r.Partition, r.Version, r.Late, r.Duplicates, r.TooLate)
	})
}

func (s *Sink) clocks(ctx context.Context, bs []*Batch) error {
	return s.insert(ctx, "stream_clocks", bs, func(b *Batch) int { return len(b.Clocks) }, func(d driver.Batch, b *Batch, i int) error {
		r := &b.Clocks[i]
		return d.Append(r.Stream, r.Partition, r.Version, time.UnixMilli(r.Clock).UTC(),
			time.UnixMilli(r.ClosedTo).UTC(), time.UnixMilli(r.FinalTo).UTC(), b2u(r.Closed))
	})
}

func (s *Sink) raw(ctx context.Context, bs []*Batch) error {
	return s.insert(ctx, "events_raw", bs, func(b *Batch) int { return len(b.Raw) }, func(d driver.Batch, b *Batch, i int) error {
		e := &b.Raw[i]
		return d.Append(e.Stream, time.UnixMilli(e.EventTime).UTC(), time.UnixMilli(e.ReceivedAt).UTC(), e.Type.String(),
			e.Listener, e.Fingerprint, e.PlayedMS, e.StalledMS, b2u(e.Flags&event.FlagMuted != 0), e.ErrorCode, e.DisplayedCount,
			e.Flags, e.Partition, uint64(e.Offset))
	})
}

func (s *Sink) deadLetters(ctx context.Context, bs []*Batch) error {
	return s.insert(ctx, "dead_letters", bs, func(b *Batch) int { return len(b.DeadLetters) }, func(db driver.Batch, b *Batch, i int) error {
		d := &b.DeadLetters[i]
		v := d.Value[:min(len(d.Value), MaxDeadLetterBytes)]
		return db.Append(d.Topic, d.Partition, d.Offset, d.Reason, d.Detail, string(v), d.SeenAt.UTC())
	})
}
