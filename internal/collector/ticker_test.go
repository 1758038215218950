package collector

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/pkg/event"
)

func newTestTicker(p *Producer, interval time.Duration, log *slog.Logger) (*ticker, *prometheus.CounterVec) {
	results := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ticks"}, []string{"result"})
	return newTicker(p, interval, log, results), results
}

func count(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func TestTickWritesTheClockToEveryPartition(t *testing.T) {
	k := &fakeKafka{partitions: 3}
	lookups := 0
	// No room for a single event: ticks do not use the in-flight budget.
	p := newFakeProducer(k, 0, &lookups)
	tk, results := newTestTicker(p, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	clock := time.UnixMilli(1_723_509_720_000)
	tk.now = func() time.Time { return clock }
	tk.tick(context.Background())
	clock = clock.Add(time.Second)
	tk.tick(context.Background())
	for part := range 3 {
		msgs := k.received()[part]
		if len(msgs) != 2 {
			t.Fatalf("partition %d: %d ticks, want 2", part, len(msgs))
		}
		for i, m := range msgs {
			var r event.Record
			if err := event.DecodeRecord(m.Value, &r); err != nil {
				t.Fatal(err)
			}
			at := int64(1_723_509_720_000 + 1000*i)
			want := event.Record{Type: event.TypeTick, Fingerprint: tk.id, EventTime: at, ReceivedAt: at}
			if r.Type != want.Type || r.Fingerprint != want.Fingerprint || r.EventTime != at || r.ReceivedAt != at ||
				r.Listener != 0 || r.Flags != 0 || r.KeyID != 0 || len(r.StreamID) != 0 {
				t.Fatalf("partition %d: tick %+v, want %+v", part, r, want)
			}
			if h, ok := headerPartition(m.Headers); !ok || h != part || binary.LittleEndian.Uint64(m.Key) != 0 || len(m.Key) != 8 {
				t.Fatalf("partition %d: tick key %x headers %v", part, m.Key, m.Headers)
			}
		}
	}
	if got := count(results.WithLabelValues("ok")); got != 2 {
		t.Fatalf("ticks ok %v, want 2", got)
	}
	if lookups != 1 {
		t.Fatalf("%d partition count lookups, want 1", lookups)
	}
}

// TestTickFailuresAreCountedAndLoggedSparingly: every failed tick is counted; a run of
// failures is logged when it starts and then once a minute, and its end once.
func TestTickFailuresAreCountedAndLoggedSparingly(t *testing.T) {
	k := &fakeKafka{partitions: 2, err: errors.New("broker down")}
	lookups := 0
	var logs bytes.Buffer
	tk, results := newTestTicker(newFakeProducer(k, 100, &lookups), time.Second, slog.New(slog.NewTextHandler(&logs, nil)))
	clock := time.Unix(0, 0)
	tk.now = func() time.Time { return clock }
	for range 150 { // 2.5 minutes of ticks against a broker that is down
		tk.tick(context.Background())
		clock = clock.Add(time.Second)
	}
	k.mu.Lock()
	k.err = nil
	k.mu.Unlock()
	tk.tick(context.Background())
	tk.tick(context.Background())
	if bad, ok := count(results.WithLabelValues("error")), count(results.WithLabelValues("ok")); bad != 150 || ok != 2 {
		t.Fatalf("ticks: %v failed, %v ok; want 150 and 2", bad, ok)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	// At 0 s, 60 s and 120 s, then the recovery.
	if len(lines) != 4 || !strings.Contains(lines[2], "failed_ticks=121") || !strings.Contains(lines[3], "ticks written again") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// blockingKafka holds tick writes until released and lets every other write through.
type blockingKafka struct {
	fakeKafka
	entered, release chan struct{}
}

func (b *blockingKafka) WriteMessages(ctx context.Context, msgs ...kafkago.Message) error {
	if event.Type(msgs[0].Value[1]) == event.TypeTick {
		b.entered <- struct{}{}
		select {
		case <-b.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return b.fakeKafka.WriteMessages(ctx, msgs...)
}

// TestStuckTickDoesNotDelayEvents: while a tick waits for Kafka, requests' writes go through
// with the whole in-flight budget.
func TestStuckTickDoesNotDelayEvents(t *testing.T) {
	k := &blockingKafka{fakeKafka: fakeKafka{partitions: 2}, entered: make(chan struct{}), release: make(chan struct{})}
	lookups := 0
	p := newFakeProducer(&k.fakeKafka, 3, &lookups)
	p.w = k
	tk, _ := newTestTicker(p, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	wg.Go(func() { tk.tick(context.Background()) })
	<-k.entered
	if err := p.Write(context.Background(), []kafkago.Message{listenerMsg(1), listenerMsg(2), listenerMsg(3)}); err != nil {
		t.Fatalf("events behind a stuck tick: %v", err)
	}
	close(k.release)
	wg.Wait()
}

func TestRunTicksStopsWithItsContext(t *testing.T) {
	k := &fakeKafka{partitions: 2}
	lookups := 0
	p := newFakeProducer(k, 100, &lookups)
	off, _ := newTestTicker(p, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	off.run(context.Background()) // returns at once: ticks disabled
	tk, results := newTestTicker(p, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk.run(ctx)
	}()
	for count(results.WithLabelValues("ok")) < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	n := len(k.received()[0])
	time.Sleep(20 * time.Millisecond)
	if n < 3 || len(k.received()[0]) != n || len(k.received()[1]) != n {
		t.Fatalf("%d ticks before the stop, %d and %d after", n, len(k.received()[0]), len(k.received()[1]))
	}
}
