package aggregator_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/pkg/event"
)

// TestPoisonRecordsGoToDeadLetters writes records that no collector would write straight to
// Kafka, ahead of a stream: bytes that are no record, a record dated in 2150, and a stream end
// from an untrusted token. Each becomes a dead_letters row with its topic, partition, offset,
// reason and bytes; the partition moves on, and the stream's figures equal the truth (what a
// run without them gives).
func TestPoisonRecordsGoToDeadLetters(t *testing.T) {
	e := newEnv(t, 1)
	st := scenario(300, 7)
	now := time.Now().UnixMilli()
	future := event.Record{Type: event.TypeHeartbeat, Listener: 42, Fingerprint: 7, EventTime: 5_680_281_600_000,
		ReceivedAt: now, PlayedMS: 10_000, StreamID: []byte(st.Scenario.StreamID)}
	end := event.Record{Type: event.TypeEnd, Listener: 1, EventTime: now, ReceivedAt: now,
		StreamID: []byte(st.Scenario.StreamID)}
	poison := []struct {
		value  []byte
		reason string
	}{
		{[]byte("this is not an earshot record"), "corrupt_record"},
		{event.AppendRecord(nil, &future), "time_out_of_range"},
		{event.AppendRecord(nil, &end), "untrusted_end"},
	}
	w := &kafkago.Writer{Addr: kafkago.TCP(e.kafka.Brokers...), Topic: e.kafka.Topic, RequiredAcks: kafkago.RequireAll}
	defer w.Close()
	for _, p := range poison {
		// One write each, so that their offsets are 0, 1 and 2 in the only partition.
		if err := w.WriteMessages(context.Background(), kafkago.Message{Key: []byte("poison"), Value: p.value}); err != nil {
			t.Fatal(err)
		}
	}

	stop := e.runAggregator()
	defer stop()
	e.send(st)
	r := e.waitDone(st)
	checkAgainstTruth(t, r, sim.Oracle(st))

	rows, err := e.conn.Query(context.Background(), `SELECT partition, offset, reason, detail, value
		FROM dead_letters FINAL WHERE topic = ? ORDER BY offset`, e.kafka.Topic)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	for ; rows.Next(); n++ {
		var (
			part                  uint16
			off                   int64
			reason, detail, value string
		)
		if err := rows.Scan(&part, &off, &reason, &detail, &value); err != nil {
			t.Fatal(err)
		}
		if n >= len(poison) {
			t.Fatalf("more dead letters than poison records: offset %d %s (%s)", off, reason, detail)
		}
		want := poison[n]
		if part != 0 || off != int64(n) || reason != want.reason || !bytes.Equal([]byte(value), want.value) || detail == "" {
			t.Errorf("dead letter %d: partition %d offset %d reason %q detail %q value %q; want 0, %d, %q, the record's bytes",
				n, part, off, reason, detail, value, n, want.reason)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(poison) {
		t.Fatalf("%d dead letters, want %d", n, len(poison))
	}
}
