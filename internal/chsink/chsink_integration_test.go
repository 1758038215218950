package chsink_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/chsink"
	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// TestWriteManyBatches writes two partitions' flushes in one Write, as the aggregator's
// committer does: each batch's listener rows keep their own stream names (each batch numbers
// its streams from 0), and raw events past MaxBatchRows are split across inserts without losing
// or repeating one; each batch hears when its figures are readable, before its raw events.
func TestWriteManyBatches(t *testing.T) {
	conn := testenv.MigratedClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Received now: events_raw keeps 90 days from received_at.
	minute := time.Now().Truncate(time.Minute).UnixMilli()
	conn1 := uint8(window.FlagConnected)
	raw := func(partition uint16, n int) []chsink.RawEvent {
		out := make([]chsink.RawEvent, n)
		for i := range out {
			out[i] = chsink.NewRawEvent(partition, int64(i), &event.Record{Type: event.TypeHeartbeat,
				Listener: uint64(i + 1), StreamID: []byte("a"), EventTime: minute, ReceivedAt: minute},
				func(b []byte) string { return string(b) })
		}
		return out
	}
	// Together more than MaxBatchRows, so the second batch's events span two inserts.
	perBatch := chsink.MaxBatchRows*3/5 + 1
	b1 := &chsink.Batch{
		Listeners: window.ListenerRows{Streams: []string{"a", "b"}, Rows: []window.ListenerRow{
			{Stream: 0, Minute: minute, Listener: 1, Flags: conn1}, {Stream: 0, Minute: minute, Listener: 2, Flags: conn1},
			{Stream: 0, Minute: minute, Listener: 3, Flags: conn1}, {Stream: 1, Minute: minute, Listener: 4, Flags: conn1},
		}},
		Raw: raw(0, perBatch),
	}
	b2 := &chsink.Batch{
		Listeners: window.ListenerRows{Streams: []string{"b"}, Rows: []window.ListenerRow{
			{Stream: 0, Minute: minute, Listener: 5, Flags: conn1}, {Stream: 0, Minute: minute, Listener: 6, Flags: conn1},
		}},
		Raw: raw(1, perBatch),
	}
	// Visible is called once per batch, when the figures are readable and before the raw
	// events are written.
	var visible []string
	check := func(name string) func() {
		return func() {
			var aggRows, raw uint64
			if err := conn.QueryRow(ctx, "SELECT (SELECT count() FROM listener_minutes_agg), (SELECT count() FROM events_raw)").Scan(&aggRows, &raw); err != nil {
				t.Error(err)
			}
			if aggRows == 0 || raw != 0 {
				t.Errorf("%s visible with %d listener-minute rows and %d raw events: want some and none", name, aggRows, raw)
			}
			visible = append(visible, name)
		}
	}
	b1.Visible, b2.Visible = check("b1"), check("b2")
	if err := chsink.New(conn).Write(ctx, b1, b2); err != nil {
		t.Fatal(err)
	}
	if len(visible) != 2 || visible[0] != "b1" || visible[1] != "b2" {
		t.Errorf("visible called for %v, want [b1 b2]", visible)
	}
	for stream, want := range map[string]uint64{"a": 3, "b": 3} {
		var got uint64
		if err := conn.QueryRow(ctx, "SELECT uniqCombined64Merge(connected) FROM listener_minutes_agg WHERE stream_id = ?", stream).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("stream %s: %d connected listeners, want %d", stream, got, want)
		}
	}
	var rows, distinct, offsets uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(partition, offset), sum(offset) FROM events_raw").Scan(&rows, &distinct, &offsets); err != nil {
		t.Fatal(err)
	}
	n := uint64(perBatch)
	if want := 2 * n; rows != want || distinct != want || offsets != n*(n-1) {
		t.Errorf("events_raw: %d rows, %d distinct positions, offsets summing to %d; want %d, %d, %d", rows, distinct, offsets,
			want, want, n*(n-1))
	}
}

// TestCheckpointChunks: a checkpoint larger than a chunk comes back whole; one cut short
// (chunks written, never committed) leaves the partition's checkpoint as it was; when a write
// cut short replaced a chunk of the newest checkpoint (two owners of a partition at once), the
// other slot's is restored; when both slots are broken that is an error, not a fresh start; an
// earlier release's one-row checkpoint still loads.
func TestCheckpointChunks(t *testing.T) {
	conn := testenv.MigratedClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := chsink.New(conn)
	const group, topic = "g", "events"
	if _, err := s.LoadCheckpoint(ctx, group, topic, 1); !errors.Is(err, chsink.ErrNoCheckpoint) {
		t.Fatalf("no checkpoint yet: %v, want ErrNoCheckpoint", err)
	}
	state := func(seed byte, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i*7) + byte(i>>13)
		}
		return b
	}
	write := func(slot uint8, next int64, data []byte, commit bool) {
		t.Helper()
		w := s.NewCheckpoint(ctx, group, topic, 1, slot, next)
		for len(data) > 0 { // in uneven pieces, as a buffered encoder writes
			k := min(len(data), 100_003)
			if _, err := w.Write(data[:k]); err != nil {
				t.Fatal(err)
			}
			data = data[k:]
		}
		if commit {
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	load := func(wantNext int64, wantSlot uint8, want []byte) {
		t.Helper()
		cp, err := s.LoadCheckpoint(ctx, group, topic, 1)
		if err != nil {
			t.Fatal(err)
		}
		if cp.NextOffset != wantNext || cp.Slot != wantSlot || !bytes.Equal(cp.State, want) {
			t.Fatalf("loaded offset %d slot %d, %d bytes; want offset %d slot %d, %d bytes (equal: %v)", cp.NextOffset, cp.Slot,
				len(cp.State), wantNext, wantSlot, len(want), bytes.Equal(cp.State, want))
		}
	}
	optimize := func() {
		t.Helper()
		if err := conn.Exec(ctx, "OPTIMIZE TABLE checkpoint_chunks FINAL"); err != nil {
			t.Fatal(err)
		}
	}
	s1, s2 := state(1, 2*chsink.ChunkBytes+7), state(2, chsink.ChunkBytes/2)
	write(1, 100, s1, true)
	var chunks uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM checkpoint_chunks WHERE next_offset = 100").Scan(&chunks); err != nil {
		t.Fatal(err)
	}
	if chunks != 3 {
		t.Errorf("%d chunks for 2 chunks and 7 bytes, want 3", chunks)
	}
	load(100, 1, s1)
	write(0, 200, s2, true)
	load(200, 0, s2)
	// Cut short after its first chunk, into the newest checkpoint's slot: once merged, chunk 0
	// of the checkpoint at 200 is the one at 300's. The checkpoint at 100 is complete.
	write(0, 300, state(3, chsink.ChunkBytes+1), false)
	optimize()
	load(100, 1, s1)
	// And now into the other slot too: nothing complete is left.
	write(1, 400, state(4, chsink.ChunkBytes+1), false)
	optimize()
	if cp, err := s.LoadCheckpoint(ctx, group, topic, 1); err == nil || errors.Is(err, chsink.ErrNoCheckpoint) {
		t.Fatalf("both slots broken: loaded offset %d, err %v; want an error other than ErrNoCheckpoint", cp.NextOffset, err)
	}
	// An earlier release's checkpoint: the state in the row, no chunks.
	old := []byte("an earlier release's state")
	if err := conn.Exec(ctx, "INSERT INTO checkpoints (consumer_group, topic, partition, next_offset, created_at, state) VALUES (?, ?, 1, 500, now(), ?)",
		group, topic, string(old)); err != nil {
		t.Fatal(err)
	}
	load(500, 0, old)
}

// TestCheckpointTwoOwners: two instances owning a partition for a moment (a rebalance) write
// the same slot at the same offset, their chunks interleaved. Whatever ClickHouse merges, a
// state is never put together from both: before the merges one of the two comes back whole;
// after them the newest manifest's chunks are not all its own, and the other slot's checkpoint
// is restored.
func TestCheckpointTwoOwners(t *testing.T) {
	conn := testenv.MigratedClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := chsink.New(conn)
	fill := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	const group, topic = "g", "events"
	older := fill('o', 10)
	w := s.NewCheckpoint(ctx, group, topic, 1, 1, 100)
	if _, err := w.Write(older); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	a := s.NewCheckpoint(ctx, group, topic, 1, 0, 200)
	b := s.NewCheckpoint(ctx, group, topic, 1, 0, 200)
	stateA := append(fill('a', chsink.ChunkBytes), fill('A', chsink.ChunkBytes)...)
	stateB := append(fill('b', chsink.ChunkBytes), fill('B', chsink.ChunkBytes)...)
	for _, step := range []struct {
		w    *chsink.CheckpointWriter
		data []byte
	}{{a, stateA[:chsink.ChunkBytes]}, {b, stateB}, {a, stateA[chsink.ChunkBytes:]}} {
		if _, err := step.w.Write(step.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	cp, err := s.LoadCheckpoint(ctx, group, topic, 1)
	if err != nil {
		t.Fatal(err)
	}
	if cp.NextOffset != 200 || !bytes.Equal(cp.State, stateA) && !bytes.Equal(cp.State, stateB) {
		t.Fatalf("before merges: offset %d, a state that is neither owner's (%q…%q)", cp.NextOffset, cp.State[:1], cp.State[len(cp.State)-1:])
	}
	for _, table := range []string{"checkpoints", "checkpoint_chunks"} {
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			t.Fatal(err)
		}
	}
	if cp, err = s.LoadCheckpoint(ctx, group, topic, 1); err != nil {
		t.Fatal(err)
	}
	if cp.NextOffset != 100 || cp.Slot != 1 || !bytes.Equal(cp.State, older) {
		t.Fatalf("after merges: offset %d slot %d %q…; want the other slot's checkpoint at 100", cp.NextOffset, cp.Slot, cp.State[:1])
	}
}
