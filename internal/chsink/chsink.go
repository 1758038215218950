// Package chsink writes the aggregator's output to ClickHouse: minute and quarter rows,
// listener-minute rows, raw events and checkpoints.
//
// Every write is idempotent: minute, quarter, listener, delivery and clock rows carry a
// deterministic key and a version (ReplacingMergeTree keeps the highest; a corrected row
// replaces the one before it), raw events are keyed by (stream, partition, offset),
// checkpoints by partition with the next offset as version. Re-processing the same Kafka
// offsets therefore changes no result, which is what lets the aggregator commit offsets only
// after these writes.
package chsink

import (
	"context"
	"database/sql"
	"errors"
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

// RawEvent is one Kafka record with its position, for events_raw.
type RawEvent struct {
	Partition uint16
	Offset    int64
	Record    event.Record
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
}

// Rows is the number of rows in b.
func (b *Batch) Rows() int {
	return len(b.Minutes) + len(b.Quarters) + len(b.Listeners.Rows) + len(b.Delivery) + len(b.Clocks) + len(b.Raw) +
		len(b.DeadLetters)
}

// Write inserts b. Listener rows go before minute rows, so a reader who sees a minute also
// sees its distinct states; clock rows go last, so a reader who sees a stream's rows final
// up to a time sees those rows.
func (s *Sink) Write(ctx context.Context, b *Batch) error {
	for _, w := range []func(context.Context, *Batch) error{s.listeners, s.minutes, s.quarters, s.delivery, s.raw, s.deadLetters, s.clocks} {
		if err := w(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) batches(ctx context.Context, table string, n int, appendRow func(driver.Batch, int) error) error {
	for start := 0; start < n; start += MaxBatchRows {
		batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+table)
		if err != nil {
			return fmt.Errorf("cannot prepare insert into %s: %w", table, err)
		}
		for i := start; i < min(n, start+MaxBatchRows); i++ {
			if err := appendRow(batch, i); err != nil {
				batch.Abort()
				return fmt.Errorf("cannot append to %s: %w", table, err)
			}
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("cannot insert into %s: %w", table, err)
		}
	}
	return nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (s *Sink) minutes(ctx context.Context, batch *Batch) error {
	rows := batch.Minutes
	return s.batches(ctx, "minute_stats", len(rows), func(b driver.Batch, i int) error {
		r := &rows[i]
		return b.Append(r.Stream, r.Minute, r.Partition, r.Version, b2u(r.Final), b2u(r.Deleted),
			r.Connected.Value, r.Connected.Lo, r.Connected.Hi, b2u(r.Connected.Exact),
			r.Hearing.Value, r.Hearing.Lo, r.Hearing.Hi, b2u(r.Hearing.Exact),
			string(r.ConnectedSketch), string(r.HearingSketch), string(r.QualifiedSketch), uint8(sketch.Version), uint8(sketch.Precision),
			r.ConnectedPerSec, r.HearingPerSec,
			r.Joins, r.Leaves, r.Timeouts, r.Plays, r.StartFailures, r.Errors, r.ErrorsByCode,
			r.PlayedMS, r.MutedMS, r.StalledMS, r.Qualified,
			b2u(r.HasDisplayed), r.DisplayedMax, r.DisplayedLast, r.DisplayedLastAt, r.PlayedTrimmedMS)
	})
}

func (s *Sink) quarters(ctx context.Context, batch *Batch) error {
	rows := batch.Quarters
	return s.batches(ctx, "quarter_stats", len(rows), func(b driver.Batch, i int) error {
		r := &rows[i]
		return b.Append(r.Stream, r.Quarter, r.Partition, r.Version, b2u(r.Final), b2u(r.Deleted), r.AQHPersons)
	})
}

func (s *Sink) listeners(ctx context.Context, batch *Batch) error {
	rows := batch.Listeners
	return s.batches(ctx, "listener_minutes", len(rows.Rows), func(b driver.Batch, i int) error {
		r := &rows.Rows[i]
		return b.Append(rows.Streams[r.Stream], time.UnixMilli(r.Minute).UTC(), r.Listener, r.Flags, r.Version)
	})
}

func (s *Sink) delivery(ctx context.Context, batch *Batch) error {
	rows := batch.Delivery
	return s.batches(ctx, "delivery_stats", len(rows), func(b driver.Batch, i int) error {
		r := &rows[i]
		return b.Append(r.Stream, r.Minute, r.Partition, r.Version, r.Late, r.Duplicates, r.TooLate)
	})
}

func (s *Sink) clocks(ctx context.Context, batch *Batch) error {
	rows := batch.Clocks
	return s.batches(ctx, "stream_clocks", len(rows), func(b driver.Batch, i int) error {
		r := &rows[i]
		return b.Append(r.Stream, r.Partition, r.Version, time.UnixMilli(r.Clock).UTC(),
			time.UnixMilli(r.ClosedTo).UTC(), time.UnixMilli(r.FinalTo).UTC(), b2u(r.Closed))
	})
}

func (s *Sink) raw(ctx context.Context, batch *Batch) error {
	rows := batch.Raw
	return s.batches(ctx, "events_raw", len(rows), func(b driver.Batch, i int) error {
		e := &rows[i]
		r := &e.Record
		return b.Append(string(r.StreamID), time.UnixMilli(r.EventTime).UTC(), time.UnixMilli(r.ReceivedAt).UTC(), r.Type.String(),
			r.Listener, r.Fingerprint, r.PlayedMS, r.StalledMS, b2u(r.Muted()), string(r.ErrorCode), r.DisplayedCount,
			r.Flags, e.Partition, uint64(e.Offset))
	})
}

func (s *Sink) deadLetters(ctx context.Context, batch *Batch) error {
	rows := batch.DeadLetters
	return s.batches(ctx, "dead_letters", len(rows), func(b driver.Batch, i int) error {
		d := &rows[i]
		v := d.Value[:min(len(d.Value), MaxDeadLetterBytes)]
		return b.Append(d.Topic, d.Partition, d.Offset, d.Reason, d.Detail, string(v), d.SeenAt.UTC())
	})
}

// Checkpoint stores a partition's state; nextOffset is where a resuming worker starts.
func (s *Sink) Checkpoint(ctx context.Context, group, topic string, partition uint16, nextOffset int64, state []byte) error {
	// A batch (Native format), not a bound Exec: the state is binary, and client-side binding
	// would put it raw into the SQL text.
	err := s.batches(ctx, "checkpoints", 1, func(b driver.Batch, _ int) error {
		return b.Append(group, topic, partition, uint64(nextOffset), time.Now().UTC(), string(state))
	})
	if err != nil {
		return fmt.Errorf("cannot write checkpoint of partition %d: %w", partition, err)
	}
	return nil
}

// ErrNoCheckpoint means the partition has never been checkpointed.
var ErrNoCheckpoint = errors.New("no checkpoint")

// LoadCheckpoint returns the newest checkpoint of a partition.
func (s *Sink) LoadCheckpoint(ctx context.Context, group, topic string, partition uint16) (nextOffset int64, state []byte, err error) {
	var off uint64
	var st string
	err = s.conn.QueryRow(ctx, `SELECT next_offset, state FROM checkpoints
		WHERE consumer_group = ? AND topic = ? AND partition = ? ORDER BY next_offset DESC LIMIT 1`, group, topic, partition).Scan(&off, &st)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil, ErrNoCheckpoint
		}
		return 0, nil, fmt.Errorf("cannot read checkpoint of partition %d: %w", partition, err)
	}
	return int64(off), []byte(st), nil
}
