package chsink_test

import (
	"context"
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
// or repeating one.
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
			out[i] = chsink.RawEvent{Partition: partition, Offset: int64(i), Record: event.Record{Type: event.TypeHeartbeat,
				Listener: uint64(i + 1), StreamID: []byte("a"), EventTime: minute, ReceivedAt: minute}}
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
	if err := chsink.New(conn).Write(ctx, b1, b2); err != nil {
		t.Fatal(err)
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
