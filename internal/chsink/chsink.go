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
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
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

// ChunkBytes bounds one chunk of a checkpoint (schema/005_checkpoint_chunks.sql): what the
// aggregator holds of a checkpoint while writing it, a few times over, and the longest insert
// the other partitions' rows can wait behind.
const ChunkBytes = 4 << 20

// Checkpoint is a partition's stored state.
type Checkpoint struct {
	// NextOffset is where a resuming worker starts.
	NextOffset int64
	// Slot holds the checkpoint's chunks: the next checkpoint goes into the other one.
	Slot  uint8
	State []byte
}

// CheckpointWriter stores what is written to it as the chunks of one checkpoint, each chunk an
// insert; Commit then makes it the partition's newest. A writer that failed, or was not
// committed, leaves the partition's checkpoint as it was.
type CheckpointWriter struct {
	s            *Sink
	ctx          context.Context
	group, topic string
	partition    uint16
	slot         uint8
	next         int64
	id           uint64 // this attempt's write_id
	buf          []byte
	chunks       uint32
	err          error
}

// NewCheckpoint starts writing a partition's state at nextOffset into slot: not the slot of
// the checkpoint LoadCheckpoint returned or the last one committed (Checkpoint.Slot).
func (s *Sink) NewCheckpoint(ctx context.Context, group, topic string, partition uint16, slot uint8, nextOffset int64) *CheckpointWriter {
	return &CheckpointWriter{s: s, ctx: ctx, group: group, topic: topic, partition: partition, slot: slot, next: nextOffset,
		id: rand.Uint64()}
}

// Write buffers p, inserting every full chunk.
func (w *CheckpointWriter) Write(p []byte) (int, error) {
	n := len(p)
	for w.err == nil && len(p) > 0 {
		k := min(len(p), ChunkBytes-len(w.buf))
		if w.buf == nil {
			w.buf = make([]byte, 0, ChunkBytes)
		}
		w.buf, p = append(w.buf, p[:k]...), p[k:]
		if len(w.buf) == ChunkBytes {
			w.flush()
		}
	}
	if w.err != nil {
		return n - len(p), w.err
	}
	return n, nil
}

// Failed reports whether an insert failed (ClickHouse, not the state: worth retrying).
func (w *CheckpointWriter) Failed() bool { return w.err != nil }

func (w *CheckpointWriter) flush() {
	chunk := w.chunks
	w.err = w.s.insertOne(w.ctx, "checkpoint_chunks", func(d driver.Batch) error {
		return d.Append(w.group, w.topic, w.partition, w.slot, chunk, uint64(w.next), w.id, string(w.buf))
	})
	if w.err != nil {
		w.err = fmt.Errorf("cannot write chunk %d of the checkpoint of partition %d: %w", chunk, w.partition, w.err)
		return
	}
	w.chunks++
	w.buf = w.buf[:0]
}

// insertOne inserts the one row appendRow appends.
func (s *Sink) insertOne(ctx context.Context, table string, appendRow func(driver.Batch) error) error {
	return s.insert(ctx, table, []*Batch{nil}, func(*Batch) int { return 1 },
		func(d driver.Batch, _ *Batch, _ int) error { return appendRow(d) })
}

// Commit writes the last chunk, then the row that makes the checkpoint the partition's newest.
func (w *CheckpointWriter) Commit() error {
	if w.err == nil && (len(w.buf) > 0 || w.chunks == 0) {
		w.flush()
	}
	if w.err != nil {
		return w.err
	}
	err := w.s.insertOne(w.ctx, "checkpoints (consumer_group, topic, partition, next_offset, created_at, state, chunks, slot, write_id)",
		func(d driver.Batch) error {
			return d.Append(w.group, w.topic, w.partition, uint64(w.next), time.Now().UTC(), "", w.chunks, w.slot, w.id)
		})
	if err != nil {
		return fmt.Errorf("cannot write checkpoint of partition %d: %w", w.partition, err)
	}
	return nil
}

// ErrNoCheckpoint means the partition has never been checkpointed.
var ErrNoCheckpoint = errors.New("no checkpoint")

// LoadCheckpoint returns the newest complete checkpoint of a partition. A checkpoint whose
// chunks are not all there (its slot was written over by a later write that was cut short while
// another instance held the partition) is passed over for the partition's other slot; if no
// checkpoint is complete, that is an error, never a silent start from scratch.
func (s *Sink) LoadCheckpoint(ctx context.Context, group, topic string, partition uint16) (Checkpoint, error) {
	type manifest struct {
		next, id uint64
		state    string
		chunks   uint32
		slot     uint8
	}
	var ms []manifest
	rows, err := s.conn.Query(ctx, `SELECT next_offset, write_id, state, chunks, slot FROM checkpoints
		WHERE consumer_group = ? AND topic = ? AND partition = ? ORDER BY next_offset DESC, chunks DESC LIMIT 8`, group, topic, partition)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("cannot read checkpoint of partition %d: %w", partition, err)
	}
	for rows.Next() {
		var m manifest
		if err := rows.Scan(&m.next, &m.id, &m.state, &m.chunks, &m.slot); err != nil {
			rows.Close()
			return Checkpoint{}, fmt.Errorf("cannot read checkpoint of partition %d: %w", partition, err)
		}
		ms = append(ms, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Checkpoint{}, fmt.Errorf("cannot read checkpoint of partition %d: %w", partition, err)
	}
	if len(ms) == 0 {
		return Checkpoint{}, ErrNoCheckpoint
	}
	var problems []string
	for _, m := range ms {
		if m.chunks == 0 { // an earlier release's checkpoint: the state is in the row
			return Checkpoint{NextOffset: int64(m.next), Slot: m.slot, State: []byte(m.state)}, nil
		}
		state, err := s.chunks(ctx, group, topic, partition, m.slot, m.next, m.id, m.chunks)
		if err == nil {
			return Checkpoint{NextOffset: int64(m.next), Slot: m.slot, State: state}, nil
		}
		if !errors.Is(err, errIncomplete) {
			return Checkpoint{}, err
		}
		problems = append(problems, fmt.Sprintf("at offset %d: %v", m.next, err))
	}
	return Checkpoint{}, fmt.Errorf("no complete checkpoint of partition %d (%s): reset the group's checkpoints to replay the topic",
		partition, strings.Join(problems, "; "))
}

var errIncomplete = errors.New("chunks missing")

// chunks reads the chunks of the checkpoint at next in slot, as write id wrote them.
func (s *Sink) chunks(ctx context.Context, group, topic string, partition uint16, slot uint8, next, id uint64, n uint32) ([]byte, error) {
	rows, err := s.conn.Query(ctx, `SELECT chunk, data FROM checkpoint_chunks
		WHERE consumer_group = ? AND topic = ? AND partition = ? AND slot = ? AND next_offset = ? AND write_id = ? AND chunk < ?
		ORDER BY chunk`, group, topic, partition, slot, next, id, n)
	if err != nil {
		return nil, fmt.Errorf("cannot read checkpoint of partition %d: %w", partition, err)
	}
	defer rows.Close()
	var state []byte
	var want uint32
	for rows.Next() {
		var chunk uint32
		var data string
		if err := rows.Scan(&chunk, &data); err != nil {
			return nil, fmt.Errorf("cannot read checkpoint of partition %d: %w", partition, err)
		}
		switch {
		case chunk+1 == want: // the same chunk twice (an insert retried by the driver, not merged yet)
			continue
		case chunk != want:
			return nil, fmt.Errorf("%w: chunk %d of %d", errIncomplete, want, n)
		}
		if state == nil { // room for every chunk, as far as a sane count goes
			state = make([]byte, 0, min(int(n), 64)*len(data))
		}
		state = append(state, data...)
		want++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read checkpoint of partition %d: %w", partition, err)
	}
	if want != n {
		return nil, fmt.Errorf("%w: %d of %d", errIncomplete, want, n)
	}
	return state, nil
}
