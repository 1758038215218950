package eventlog_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/internal/testenv"
)

func newTopic(t *testing.T, partitions int) eventlog.Config {
	t.Helper()
	cfg := eventlog.DefaultConfig()
	cfg.Brokers = []string{testenv.Kafka(t)}
	cfg.Topic = testenv.Name(t, "earshot_test")
	cfg.Partitions = partitions
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eventlog.EnsureTopic(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// EnsureTopic is idempotent.
	if err := eventlog.EnsureTopic(ctx, cfg); err != nil {
		t.Fatalf("second EnsureTopic: %v", err)
	}
	return cfg
}

func produce(t *testing.T, cfg eventlog.Config, n int) {
	t.Helper()
	w := &kafkago.Writer{
		Addr:         kafkago.TCP(cfg.Brokers...),
		Topic:        cfg.Topic,
		Balancer:     &kafkago.Hash{},
		RequiredAcks: kafkago.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
	}
	defer w.Close()
	msgs := make([]kafkago.Message, n)
	for i := range msgs {
		msgs[i] = kafkago.Message{Key: []byte(fmt.Sprintf("listener-%d", i%17)), Value: []byte(fmt.Sprintf("event-%d", i))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func TestTopicHasConfiguredPartitions(t *testing.T) {
	cfg := newTopic(t, 6)
	n, err := eventlog.PartitionCount(context.Background(), cfg.Brokers, cfg.Topic)
	if err != nil || n != 6 {
		t.Fatalf("partitions = %d, %v; want 6", n, err)
	}
	bigger := cfg
	bigger.Partitions = 8
	if err := eventlog.EnsureTopic(context.Background(), bigger); err == nil {
		t.Fatal("EnsureTopic accepted an existing topic with fewer partitions than configured")
	}
}

// TestConsumerGroupResumesFromCommittedOffset produces keyed messages with acks=all, consumes
// part of them in a group, commits, restarts the reader and checks it continues exactly there.
func TestConsumerGroupResumesFromCommittedOffset(t *testing.T) {
	const total, first = 200, 120
	cfg := newTopic(t, 4)
	produce(t, cfg, total)
	group := testenv.Name(t, "group")

	newReader := func() *kafkago.Reader {
		return kafkago.NewReader(kafkago.ReaderConfig{
			Brokers: cfg.Brokers, Topic: cfg.Topic, GroupID: group,
			StartOffset: kafkago.FirstOffset, MaxWait: 100 * time.Millisecond,
			// Commit explicitly and synchronously (CommitInterval 0).
		})
	}
	seen := map[string]int{}
	keyPartition := map[string]int{}
	read := func(r *kafkago.Reader, n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for range n {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("fetch after %d messages: %v", len(seen), err)
			}
			seen[string(m.Value)]++
			if p, ok := keyPartition[string(m.Key)]; ok && p != m.Partition {
				t.Fatalf("key %s in partitions %d and %d", m.Key, p, m.Partition)
			}
			keyPartition[string(m.Key)] = m.Partition
			if err := r.CommitMessages(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}

	r := newReader()
	read(r, first)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = newReader()
	read(r, total-first)
	// Nothing more: every message was read exactly once across the restart.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if m, err := r.FetchMessage(ctx); err == nil {
		t.Fatalf("unexpected extra message %q at partition %d offset %d", m.Value, m.Partition, m.Offset)
	}
	r.Close()
	if len(seen) != total {
		t.Fatalf("read %d distinct messages, want %d", len(seen), total)
	}
	for v, c := range seen {
		if c != 1 {
			t.Fatalf("%s read %d times", v, c)
		}
	}
	if len(keyPartition) != 17 {
		t.Fatalf("saw %d keys, want 17", len(keyPartition))
	}
}

// TestKcatReadsWhatKafkaGoWrote checks the broker with an independent client.
func TestKcatReadsWhatKafkaGoWrote(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if testenv.Required() {
			t.Fatal("kcat not installed (make deps installs it)")
		}
		t.Skip("kcat not installed")
	}
	cfg := newTopic(t, 3)
	produce(t, cfg, 30)
	out, err := exec.Command(kcat, "-b", cfg.Brokers[0], "-L", "-t", cfg.Topic).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `topic "`+cfg.Topic+`" with 3 partitions`) {
		t.Fatalf("kcat -L does not show the topic with 3 partitions:\n%s", out)
	}
	out, err = exec.Command(kcat, "-b", cfg.Brokers[0], "-C", "-t", cfg.Topic, "-o", "beginning", "-e", "-q",
		"-f", "%k=%s\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 30 {
		t.Fatalf("kcat read %d messages, want 30:\n%s", len(lines), out)
	}
	found := false
	for _, l := range lines {
		if l == "listener-3=event-3" {
			found = true
		}
	}
	if !found {
		t.Fatalf("kcat output lacks listener-3=event-3:\n%s", out)
	}
}
