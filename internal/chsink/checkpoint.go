package chsink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

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

// insertOne inserts the one row appendRow appends. A batch (Native format), not a bound
// Exec: the state is binary, and client-side binding would put it raw into the SQL text.
func (s *Sink) insertOne(ctx context.Context, table string, appendRow func(driver.Batch) error) error {
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+table)
	if err != nil {
		return err
	}
	if err := appendRow(batch); err != nil {
		batch.Abort()
		return err
	}
	return batch.Send()
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
