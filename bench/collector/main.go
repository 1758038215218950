// Command collector-bench measures the collector end to end on this machine: events/s and
// request latency through HTTP into the real Kafka broker, against a bare kafka-go producer
// writing the same records with the same concurrency, and prints the ratio.
//
//	go run ./bench/collector -duration 10s   (make bench runs it with the local broker up)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/pkg/client"
)

func main() {
	broker := flag.String("broker", "127.0.0.1:9092", "Kafka broker")
	duration := flag.Duration("duration", 10*time.Second, "length of each run")
	workers := flag.Int("workers", 16, "concurrent clients (HTTP) or producers (bare)")
	batch := flag.Int("batch", 500, "events per request")
	flag.Parse()
	if err := run(*broker, *duration, *workers, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "collector-bench:", err)
		os.Exit(1)
	}
}

type result struct {
	events    int64
	elapsed   time.Duration
	latencies []time.Duration
}

func (r result) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	return r.latencies[int(float64(len(r.latencies)-1)*p)]
}

func run(broker string, d time.Duration, workers, batch int) error {
	ctx := context.Background()
	kcfg := eventlog.Config{Brokers: []string{broker}, Topic: fmt.Sprintf("earshot.bench.%d", time.Now().UnixNano()), Partitions: 12, ReplicationFactor: 1}
	if err := eventlog.EnsureTopic(ctx, kcfg); err != nil {
		return err
	}
	cfg := collector.DefaultConfig()
	cfg.Kafka = kcfg
	cfg.Hash.Key = "bench-hashing-key-0123456789-0123456789"
	cfg.Tokens = []collector.Token{{Name: "bench", Token: "bench-token-0123456789", EventsPerSecond: 1e9, Burst: 1e9}}
	cfg.Limits.IPRequestsPerSecond, cfg.Limits.IPBurst = 1e6, 1e6
	producer := collector.NewProducer(cfg.Kafka, cfg.Limits.InflightEvents, cfg.Limits.KafkaTimeout)
	srv, err := collector.NewServer(cfg, producer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer producer.Close()

	// Pre-built request batches: unique listeners so the per-listener rate filter never fires.
	mkBatch := func(w, n int) []client.Event {
		evs := make([]client.Event, batch)
		for i := range evs {
			evs[i] = client.Event{EventID: fmt.Sprintf("w%d-%d-%d", w, n, i), Type: "heartbeat", StreamID: "bench-space",
				ListenerID: fmt.Sprintf("listener-%d-%d-%d", w, n, i), TS: time.Now().UnixMilli(), PlayedMS: client.Int(10000)}
		}
		return evs
	}
	fmt.Printf("collector bench: %d workers, %d events per request, %s per run, broker %s\n", workers, batch, d, broker)

	httpRes := measure(d, workers, func(w, n int) (int, error) {
		c := client.New(ts.URL, "bench-token-0123456789")
		c.Gzip = false
		c.MaxRetries = 0
		r, err := c.SendBatch(ctx, mkBatch(w, n))
		return r.Accepted, err
	})
	// The bare producer writes the same encoded records with the collector's writer settings.
	pipe, _ := collector.NewPipeline(cfg)
	bare := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: kcfg.Topic, Balancer: collector.ListenerBalancer{},
		RequiredAcks: kafkago.RequireAll, BatchSize: 5000, BatchBytes: 4 << 20, BatchTimeout: 2 * time.Millisecond}
	defer bare.Close()
	bareRes := measure(d, workers, func(w, n int) (int, error) {
		var b collector.Batch
		body := ndjson(mkBatch(w, n))
		if err := pipe.Convert(body, collector.Source{}, time.Now(), &b); err != nil {
			return 0, err
		}
		return len(b.Msgs), bare.WriteMessages(ctx, b.Msgs...)
	})
	report := func(name string, r result) {
		fmt.Printf("  %-28s %10.0f events/s   request p50 %6.1f ms   p99 %6.1f ms\n", name, r.rate(),
			ms(r.pct(0.50)), ms(r.pct(0.99)))
	}
	report("HTTP → collector → Kafka", httpRes)
	report("bare kafka-go producer", bareRes)
	fmt.Printf("  ratio HTTP/bare: %.2f (target ≥ 0.50)\n", httpRes.rate()/bareRes.rate())
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func ndjson(evs []client.Event) []byte {
	var out []byte
	for _, e := range evs {
		out = fmt.Appendf(out, `{"event_id":%q,"type":%q,"stream_id":%q,"listener_id":%q,"ts":%d,"played_ms":%d}`+"\n",
			e.EventID, e.Type, e.StreamID, e.ListenerID, e.TS, *e.PlayedMS)
	}
	return out
}

func measure(d time.Duration, workers int, op func(w, n int) (int, error)) result {
	var (
		events atomic.Int64
		mu     sync.Mutex
		lats   []time.Duration
		wg     sync.WaitGroup
		failed atomic.Int64
		first  atomic.Value
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			var local []time.Duration
			for n := 0; time.Now().Before(deadline); n++ {
				t0 := time.Now()
				k, err := op(w, n)
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				local = append(local, time.Since(t0))
				events.Add(int64(k))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Printf("  (%d failed requests, first: %v)\n", f, first.Load())
	}
	return result{events: events.Load(), elapsed: time.Since(start), latencies: lats}
}
