package testenv

import (
	"context"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// ReadTopic reads every message of topic on broker, by partition (0 … partitions−1), up to
// each partition's end when called.
func ReadTopic(t testing.TB, broker, topic string, partitions int) map[int][]kafkago.Message {
	t.Helper()
	out := map[int][]kafkago.Message{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for p := range partitions {
		conn, err := kafkago.DialLeader(ctx, "tcp", broker, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("partition %d: %v", p, err)
			}
			out[p] = append(out[p], m)
			if m.Offset == last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}
