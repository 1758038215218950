package aggregator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/chsink"
	"github.com/earshot/earshot/internal/session"
	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// A worker owns one partition for one generation: its state, the records decoded and not yet
// applied, and what waits for the next flush.
type worker struct {
	a         *Aggregator
	gen       *kafkago.Generation
	partition uint16
	label     string
	st        *session.Partition
	next      int64 // offset to resume from
	// slot holds the newest checkpoint's chunks; the next checkpoint goes into the other.
	slot uint8
	raw  []chsink.RawEvent
	// recs are decoded records not applied yet, at offsets; their byte slices alias the Kafka
	// messages' values, which nothing reuses.
	recs    []event.Record
	offsets []int64
	values  [][]byte // the records' Kafka values, for dead letters
	// dead are the records refused since the last flush, with their values.
	dead      []chsink.DeadLetter
	dropped   map[string]uint64 // reported totals, to export deltas
	setsBuilt uint64
	// names are the stream ids and error codes of buffered raw events, shared (intern).
	names map[string]string
}

// maxNames bounds names: a partition sees a few streams at a time, but over months many.
const maxNames = 4096

// intern returns a string equal to b, the same one for every event of a stream.
func (w *worker) intern(b []byte) string {
	if s, ok := w.names[string(b)]; ok { // no allocation: the compiler looks b up in place
		return s
	}
	if len(w.names) >= maxNames || w.names == nil {
		w.names = make(map[string]string)
	}
	s := string(b)
	w.names[s] = s
	return s
}

func (w *worker) restore(ctx context.Context) error {
	a := w.a
	var cp chsink.Checkpoint
	var err error
	// ClickHouse may be down: wait for it (the partition cannot start without its state).
	if rerr := retry(ctx, a, func() error {
		return a.withStateIO(ctx, func() error {
			cp, err = a.sink.LoadCheckpoint(ctx, a.cfg.Group, a.cfg.Kafka.Topic, w.partition)
			if errors.Is(err, chsink.ErrNoCheckpoint) {
				return nil
			}
			return err
		})
	}); rerr != nil {
		return rerr
	}
	switch {
	case errors.Is(err, chsink.ErrNoCheckpoint):
		w.st = session.New(a.cfg.Session, w.partition)
		w.next = kafkago.FirstOffset
	case err != nil:
		return err
	default:
		st, err := session.Restore(a.cfg.Session, cp.State)
		if err != nil {
			return fmt.Errorf("partition %d: %w", w.partition, err)
		}
		w.st, w.next, w.slot = st, cp.NextOffset, cp.Slot
	}
	w.dropped = map[string]uint64{}
	for k, v := range w.st.Dropped {
		w.dropped[k] = v
	}
	return nil
}

func (w *worker) pending() int { return len(w.raw) }

// batchSize records are applied together (session.Partition.AddBatch overlaps their table
// lookups): large enough for that, small enough to keep the latency of a quiet stream nil (a
// batch is also applied whenever the reader has caught up).
const batchSize = 256

func (w *worker) add(m kafkago.Message) {
	w.recs = append(w.recs, event.Record{})
	r := &w.recs[len(w.recs)-1]
	if err := event.DecodeRecord(m.Value, r); err != nil {
		w.recs = w.recs[:len(w.recs)-1]
		w.a.m.dropped.WithLabelValues("corrupt_record").Inc()
		w.apply()
		w.st.Offset = m.Offset
		w.deadLetter(m.Offset, "corrupt_record", err.Error(), m.Value)
		return
	}
	w.offsets = append(w.offsets, m.Offset)
	w.values = append(w.values, m.Value)
	if w.a.cfg.RawEvents && !r.Type.Control() {
		w.raw = append(w.raw, chsink.NewRawEvent(w.partition, m.Offset, r, w.intern))
	}
}

// apply folds the decoded records into the partition state.
func (w *worker) apply() {
	if len(w.recs) == 0 {
		return
	}
	w.st.AddBatch(w.recs, w.offsets)
	w.a.m.events.WithLabelValues(w.label).Add(float64(len(w.recs)))
	// The records the partition refused become dead letters now, while their values are at hand.
	for _, r := range w.st.TakeRefused() {
		i, _ := slices.BinarySearch(w.offsets, r.Offset)
		var v []byte
		if i < len(w.offsets) && w.offsets[i] == r.Offset {
			v = w.values[i]
		}
		w.deadLetter(r.Offset, r.Reason, r.Detail, v)
	}
	clear(w.values) // they alias Kafka messages: let them go
	w.recs, w.offsets, w.values = w.recs[:0], w.offsets[:0], w.values[:0]
}

// deadLetter keeps a refused record for the dead-letter table, with a copy of at most
// chsink.MaxDeadLetterBytes of its value.
func (w *worker) deadLetter(offset int64, reason, detail string, value []byte) {
	w.a.log.Warn("record refused; written to dead_letters", "partition", w.partition, "offset", offset, "reason", reason,
		"detail", detail)
	w.dead = append(w.dead, chsink.DeadLetter{Topic: w.a.cfg.Kafka.Topic, Partition: w.partition, Offset: offset,
		Reason: reason, Detail: detail, Value: slices.Clone(value[:min(len(value), chsink.MaxDeadLetterBytes)]),
		SeenAt: time.Now()})
}

// flush writes everything emitted since the last flush, retrying until ClickHouse takes it or
// ctx ends; with checkpoint it then stores the state and commits the offset.
func (w *worker) flush(ctx context.Context, checkpoint bool) error {
	a := w.a
	out := w.st.TakeOutput()
	version := uint64(max(w.st.Offset, 0))
	b := chsink.Batch{Listeners: out.Listeners, Raw: w.raw, DeadLetters: w.dead}
	var closedAt []time.Time
	for _, m := range out.Minutes {
		r, err := m.Row(w.partition, version)
		if errors.Is(err, window.ErrNegative) {
			// A bug, not a reason to stop the partition: written with the counter at 0.
			a.m.dropped.WithLabelValues("negative_counter").Inc()
			a.log.Error("minute with a negative counter", "partition", w.partition, "err", err)
		} else if err != nil {
			return err
		}
		b.Minutes = append(b.Minutes, r)
		if !m.ClosedAt.IsZero() {
			closedAt = append(closedAt, m.ClosedAt)
			m.ClosedAt = time.Time{} // first emission only
		}
	}
	for _, q := range out.Quarters {
		b.Quarters = append(b.Quarters, window.QuarterRow{Stream: q.Stream, Quarter: time.UnixMilli(q.Start).UTC(),
			Partition: w.partition, Version: version, AQHPersons: q.AQHPersons, Final: q.Final, Deleted: q.Deleted})
	}
	for _, d := range out.Delivery {
		b.Delivery = append(b.Delivery, window.DeliveryRow{Stream: d.Stream, Minute: time.UnixMilli(d.Minute).UTC(),
			Partition: w.partition, Version: version, Late: d.Late, Duplicates: d.Duplicates, TooLate: d.TooLate})
	}
	for _, c := range out.Clocks {
		b.Clocks = append(b.Clocks, window.ClockRow{Stream: c.Stream, Partition: w.partition, Version: version,
			Clock: c.Clock, ClosedTo: c.ClosedTo, FinalTo: c.FinalTo, Closed: c.Closed})
	}
	if d := w.st.SetsBuilt - w.setsBuilt; d > 0 {
		a.m.setsBuilt.Add(float64(d))
		w.setsBuilt = w.st.SetsBuilt
	}
	if d := w.st.Dropped["panic"] - w.dropped["panic"]; d > 0 {
		a.log.Error("a record hit a bug and was skipped", "partition", w.partition, "records", d, "last", w.st.LastPanic)
	}
	for k, v := range w.st.Dropped {
		if d := v - w.dropped[k]; d > 0 {
			a.m.dropped.WithLabelValues(k).Add(float64(d))
			w.dropped[k] = v
		}
	}
	if b.Rows() > 0 {
		start := time.Now()
		var shown bool
		b.Visible = func() {
			if shown { // a retried write
				return
			}
			shown = true
			for _, at := range closedAt {
				a.m.visible.Observe(time.Since(at).Seconds())
			}
		}
		if err := retry(ctx, a, func() error { return a.commit.write(ctx, &b) }); err != nil {
			return err
		}
		a.m.flush.Observe(time.Since(start).Seconds())
		a.m.rows.WithLabelValues("minute_stats").Add(float64(len(b.Minutes)))
		a.m.rows.WithLabelValues("quarter_stats").Add(float64(len(b.Quarters)))
		a.m.rows.WithLabelValues("listener_minutes").Add(float64(len(b.Listeners.Rows)))
		a.m.rows.WithLabelValues("delivery_stats").Add(float64(len(b.Delivery)))
		a.m.rows.WithLabelValues("stream_clocks").Add(float64(len(b.Clocks)))
		a.m.rows.WithLabelValues("events_raw").Add(float64(len(b.Raw)))
		a.m.rows.WithLabelValues("dead_letters").Add(float64(len(b.DeadLetters)))
	}
	// The buffers are reused, unless a flush much larger than usual (a backlog) grew them.
	w.raw, w.dead = reuse(w.raw), w.dead[:0]
	w.st.Recycle(out)
	if !checkpoint || w.st.Offset < 0 || w.st.Offset+1 == w.next {
		return nil
	}
	return w.checkpoint(ctx)
}

// checkpoint stores the state (everything emitted is written) and commits the offset after
// it. The state is written as a stream of chunks (never whole in memory), into the slot the
// newest checkpoint is not in.
func (w *worker) checkpoint(ctx context.Context) error {
	a := w.a
	next, slot := w.st.Offset+1, 1-w.slot
	var encodeErr error
	if err := retry(ctx, a, func() error {
		return a.withStateIO(ctx, func() error {
			cw := a.sink.NewCheckpoint(ctx, a.cfg.Group, a.cfg.Kafka.Topic, w.partition, slot, next)
			if err := w.st.WriteCheckpoint(cw); err != nil {
				if cw.Failed() {
					return err // ClickHouse: retried
				}
				encodeErr = err // the state itself: retrying cannot help
				return nil
			}
			return cw.Commit()
		})
	}); err != nil {
		return err
	}
	if encodeErr != nil {
		return encodeErr
	}
	w.next, w.slot = next, slot
	a.m.checkpoints.Inc()
	// The checkpoint, not the committed offset, is where a new owner resumes; the commit keeps
	// Kafka's view of the group's lag right. It fails harmlessly once the generation is over.
	if err := w.gen.CommitOffsets(map[string]map[int]int64{a.cfg.Kafka.Topic: {int(w.partition): next}}); err != nil {
		a.log.Debug("cannot commit offset", "partition", w.partition, "err", err)
	}
	return nil
}

// reuse empties s for reuse, or lets it go when it is mostly unused capacity: a flush after a
// backlog (a restart, ClickHouse down) can hold millions of records, and keeping that
// capacity for the rest of the partition's life would be most of the aggregator's heap.
func reuse[T any](s []T) []T {
	if cap(s) > 1<<17 && cap(s) > 4*len(s) {
		return nil
	}
	clear(s) // the strings they hold
	return s[:0]
}
