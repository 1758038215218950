package collector_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/pkg/event"
)

const (
	hashKey  = "integration-test-hashing-key-0123456789"
	appToken = "integration-app-token"
)

func startCollector(t *testing.T, broker string, partitions int, mutate func(*collector.Config)) (*httptest.Server, collector.Config) {
	t.Helper()
	cfg := collector.DefaultConfig()
	cfg.Kafka.Brokers = []string{broker}
	cfg.Kafka.Topic = testenv.Name(t, "events")
	cfg.Kafka.Partitions = partitions
	cfg.Hash.Key = hashKey
	cfg.Tokens = []collector.Token{{Name: "app", Token: appToken}}
	cfg.Limits.KafkaTimeout = 3 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eventlog.EnsureTopic(ctx, cfg.Kafka); err != nil {
		t.Fatal(err)
	}
	p := collector.NewProducer(cfg.Kafka, cfg.Limits.InflightEvents, cfg.Limits.KafkaTimeout)
	s, err := collector.NewServer(cfg, p, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); p.Close() })
	return ts, cfg
}

// readAll reads every record of topic, partition by partition, until each partition's end.
func readAll(t *testing.T, cfg eventlog.Config) map[int][]kafkago.Message {
	t.Helper()
	return testenv.ReadTopic(t, cfg.Brokers[0], cfg.Topic, cfg.Partitions)
}

func heartbeat(id, listener string, ts int64) client.Event {
	return client.Event{EventID: id, Type: "heartbeat", StreamID: "space-1", ListenerID: listener, TS: ts, PlayedMS: client.Int(10_000)}
}

func TestEventsArriveDecodableAndKeyedByListener(t *testing.T) {
	ts, cfg := startCollector(t, testenv.Kafka(t), 6, nil)
	c := client.New(ts.URL, appToken)
	now := time.Now().UnixMilli()
	var evs []client.Event
	for i := range 600 {
		evs = append(evs, heartbeat(fmt.Sprint("ev-", i), fmt.Sprint("listener-", i%50), now-int64(i)))
	}
	evs = append(evs, client.Event{EventID: "bad", Type: "heartbeat", StreamID: "space-1", ListenerID: "x", TS: now}) // no played_ms
	res, err := c.Send(context.Background(), evs)
	if err != nil || res.Accepted != 600 || res.Rejected != 1 || res.Errors[0].Index != 600 {
		t.Fatalf("send: %+v %v", res, err)
	}
	parts := readAll(t, cfg.Kafka)
	total := 0
	// A 503 for a request Kafka took in part makes the client send it again: copies in Kafka
	// are expected (the aggregator counts each event once), a missing event is not.
	distinct := map[uint64]bool{}
	listenerPartition := map[uint64]int{}
	for p, msgs := range parts {
		for _, m := range msgs {
			var r event.Record
			if err := event.DecodeRecord(m.Value, &r); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(m.Value), "listener-") {
				t.Fatal("raw listener id in Kafka")
			}
			if want := collector.PartitionOf(r.Listener, cfg.Kafka.Partitions); want != p {
				t.Fatalf("listener %x in partition %d, want %d", r.Listener, p, want)
			}
			if q, ok := listenerPartition[r.Listener]; ok && q != p {
				t.Fatal("one listener in two partitions")
			}
			listenerPartition[r.Listener] = p
			if r.Type != event.TypeHeartbeat || r.PlayedMS != 10_000 || string(r.StreamID) != "space-1" {
				t.Fatalf("record %+v", r)
			}
			total++
			distinct[r.Fingerprint] = true
		}
	}
	if len(distinct) != 600 || len(listenerPartition) != 50 || len(parts) < 4 {
		t.Fatalf("%d records (%d distinct events), %d listeners in %d partitions", total, len(distinct), len(listenerPartition), len(parts))
	}
}

// TestEndReachesEveryPartition: an end event from a trusted token is in every partition once,
// after the events sent before it; from another token it is refused.
func TestEndReachesEveryPartition(t *testing.T) {
	const importToken = "integration-import-token"
	ts, cfg := startCollector(t, testenv.Kafka(t), 4, func(c *collector.Config) {
		c.Tokens = append(c.Tokens, collector.Token{Name: "import", Token: importToken, TrustedTime: true})
	})
	const stream, at = "replay-1", 1723507200000
	var evs []client.Event
	for i := range 40 {
		evs = append(evs, client.Event{EventID: fmt.Sprint("hb-", i), Type: "heartbeat", StreamID: stream,
			ListenerID: fmt.Sprint("listener-", i), TS: at + int64(i), PlayedMS: client.Int(10_000)})
	}
	evs = append(evs, client.Event{EventID: "end-1", Type: "end", StreamID: stream, TS: at + 60_000})
	res, err := client.New(ts.URL, importToken).Send(context.Background(), evs)
	if err != nil || res.Accepted != len(evs) {
		t.Fatalf("send: %+v %v", res, err)
	}
	_, err = client.New(ts.URL, appToken).Send(context.Background(), evs[len(evs)-1:])
	var se *client.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden || se.Body.Errors[0].Reason != "end_not_allowed" {
		t.Fatalf("end from a token without trusted_time: %v", err)
	}
	parts := readAll(t, cfg.Kafka)
	heartbeats := 0
	for p := range cfg.Kafka.Partitions {
		ends := 0
		for _, m := range parts[p] {
			var r event.Record
			if err := event.DecodeRecord(m.Value, &r); err != nil {
				t.Fatal(err)
			}
			if r.Type != event.TypeEnd {
				if ends > 0 {
					t.Fatalf("partition %d: a heartbeat sent before the end follows it", p)
				}
				heartbeats++
				continue
			}
			ends++
			if string(r.StreamID) != stream || r.EventTime != at+60_000 || r.Fingerprint != event.Fingerprint([]byte("end-1")) {
				t.Fatalf("partition %d: end record %+v", p, r)
			}
			if len(m.Headers) != 1 || m.Headers[0].Key != collector.PartitionHeader || string(m.Headers[0].Value) != fmt.Sprint(p) {
				t.Fatalf("partition %d: end record headers %v", p, m.Headers)
			}
		}
		if ends != 1 {
			t.Fatalf("partition %d holds %d end records, want 1", p, ends)
		}
	}
	if heartbeats != 40 {
		t.Fatalf("%d heartbeats in Kafka, want 40", heartbeats)
	}
}

// TestTicksReachEveryPartition runs a collector's ticks for a while: every partition gets its
// ticks, with the collector's clock and id, and none after they stop.
func TestTicksReachEveryPartition(t *testing.T) {
	cfg := collector.DefaultConfig()
	cfg.Kafka.Brokers = []string{testenv.Kafka(t)}
	cfg.Kafka.Topic = testenv.Name(t, "events")
	cfg.Kafka.Partitions = 3
	cfg.Hash.Key = hashKey
	cfg.Tokens = []collector.Token{{Name: "app", Token: appToken}}
	cfg.TickInterval = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := eventlog.EnsureTopic(ctx, cfg.Kafka); err != nil {
		t.Fatal(err)
	}
	p := collector.NewProducer(cfg.Kafka, cfg.Limits.InflightEvents, cfg.Limits.KafkaTimeout)
	t.Cleanup(func() { p.Close() })
	srv, err := collector.NewServer(cfg, p, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UnixMilli()
	tickCtx, stopTicks := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.RunTicks(tickCtx)
	}()
	time.Sleep(1500 * time.Millisecond)
	stopTicks()
	<-done
	end := time.Now().UnixMilli()
	parts := readAll(t, cfg.Kafka)
	ids := map[uint64]bool{}
	for part := range cfg.Kafka.Partitions {
		var last int64
		for _, m := range parts[part] {
			var r event.Record
			if err := event.DecodeRecord(m.Value, &r); err != nil {
				t.Fatal(err)
			}
			if r.Type != event.TypeTick || r.EventTime != r.ReceivedAt || r.EventTime < start || r.EventTime > end ||
				r.EventTime <= last || r.Listener != 0 || len(r.StreamID) != 0 {
				t.Fatalf("partition %d: tick %+v (ticks between %d and %d, the previous at %d)", part, r, start, end, last)
			}
			if len(m.Headers) != 1 || m.Headers[0].Key != collector.PartitionHeader || string(m.Headers[0].Value) != fmt.Sprint(part) {
				t.Fatalf("partition %d: tick headers %v", part, m.Headers)
			}
			last = r.EventTime
			ids[r.Fingerprint] = true
		}
		// 1.5 s at 100 ms: 15 ticks, less those skipped while the first write set up its
		// connections, or while a slow machine waited for acks.
		if n := len(parts[part]); n < 5 || n > 15 {
			t.Fatalf("partition %d holds %d ticks, want 5 to 15", part, n)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("ticks of one collector carry %d ids", len(ids))
	}
	// Nothing follows the stop, although the writer is still open.
	time.Sleep(300 * time.Millisecond)
	again := readAll(t, cfg.Kafka)
	for part := range cfg.Kafka.Partitions {
		if len(again[part]) != len(parts[part]) {
			t.Fatalf("partition %d: %d ticks, then %d after the stop", part, len(parts[part]), len(again[part]))
		}
	}
}

// TestBrokerOutageLosesNothingAcknowledged stops the broker while a client keeps sending:
// the collector answers 503, and after the restart every event that got a 200 is in Kafka
// exactly once.
func TestBrokerOutageLosesNothingAcknowledged(t *testing.T) {
	broker := testenv.ScratchBroker(t, 19092)
	ts, cfg := startCollector(t, broker.Addr(), 3, func(c *collector.Config) { c.Limits.IPRequestsPerSecond = 1000 })
	c := client.New(ts.URL, appToken)
	c.MaxRetries = 0 // see every 503
	c.HTTP.Timeout = 15 * time.Second

	var (
		mu      sync.Mutex
		acked   = map[string]bool{}
		status  = map[int]int{}
		batchNo atomic.Int64
	)
	send := func() {
		n := batchNo.Add(1)
		evs := make([]client.Event, 20)
		for i := range evs {
			evs[i] = heartbeat(fmt.Sprintf("b%d-%d", n, i), fmt.Sprintf("l%d-%d", n, i), time.Now().UnixMilli())
		}
		res, err := c.SendBatch(context.Background(), evs)
		mu.Lock()
		defer mu.Unlock()
		var se *client.StatusError
		switch {
		case err == nil:
			if res.Accepted != len(evs) {
				t.Errorf("200 with %d of %d accepted: %+v", res.Accepted, len(evs), res.Errors)
			}
			status[200]++
			for _, e := range evs {
				acked[e.EventID] = true
			}
		case asStatus(err, &se):
			status[se.Status]++
		default:
			status[0]++
		}
	}
	phase := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			send()
			time.Sleep(20 * time.Millisecond)
		}
	}
	phase(2 * time.Second)
	broker.Stop()
	phase(4 * time.Second)
	broker.Start()
	phase(3 * time.Second)
	// The writer reconnects: the last batches after the restart succeed.
	ok := false
	for range 100 {
		before := status[200]
		send()
		if status[200] > before {
			ok = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !ok {
		t.Fatalf("collector never recovered after the broker restart: %v", status)
	}
	if status[503] == 0 {
		t.Fatalf("no 503 while the broker was down: %v", status)
	}
	counts := map[string]int{}
	for _, msgs := range readAll(t, cfg.Kafka) {
		for _, m := range msgs {
			var r event.Record
			if err := event.DecodeRecord(m.Value, &r); err != nil {
				t.Fatal(err)
			}
			counts[fmt.Sprint(r.Fingerprint)]++
		}
	}
	fp := func(id string) string { return fmt.Sprint(event.Fingerprint([]byte(id))) }
	for id := range acked {
		if counts[fp(id)] != 1 {
			t.Fatalf("acknowledged event %s is in Kafka %d times", id, counts[fp(id)])
		}
	}
	t.Logf("statuses %v, %d events acknowledged, %d records in Kafka", status, len(acked), len(counts))
}

func asStatus(err error, se **client.StatusError) bool { return errors.As(err, se) }

// TestAbuseDoesNotHurtWellBehavedClients sends 10 000 bad requests (malformed, oversized,
// forged and missing tokens) and a client 10× over its token's rate, alongside a well-behaved
// player: every bad request gets its status, memory stays bounded, the player keeps getting 200.
func TestAbuseDoesNotHurtWellBehavedClients(t *testing.T) {
	ts, _ := startCollector(t, testenv.Kafka(t), 2, func(c *collector.Config) {
		c.Limits.MaxBodyBytes = 16 << 10
		c.TrustedProxies = []string{"127.0.0.0/8"} // lets the test play many client addresses on loopback
		c.Tokens = append(c.Tokens, collector.Token{Name: "greedy", Token: "greedy-token-0123456789", EventsPerSecond: 100, Burst: 100})
	})
	bodies := []struct {
		body, token string
		want        int
	}{
		{`{"event_id":`, appToken, 400},
		{`[{"event_id":"a"},`, appToken, 400},
		{`not json at all`, appToken, 400},
		{strings.Repeat("x", 20<<10), appToken, 413},
		{`{"event_id":"a","type":"join","stream_id":"s","listener_id":"u","ts":1}`, "forged-token-0000000", 401},
		{`{"event_id":"a","type":"join","stream_id":"s","listener_id":"u","ts":1}`, "", 401},
	}
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	do := func(body, token, ip string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/events", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := httpc.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	var wrong atomic.Int64
	var wg sync.WaitGroup
	const abusive = 10_000
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < abusive; i += 4 {
				b := bodies[i%len(bodies)]
				if got := do(b.body, b.token, fmt.Sprintf("10.1.%d.%d", i/250%250, i%250)); got != b.want {
					if wrong.Add(1) < 5 {
						t.Errorf("bad request %d: status %d, want %d", i, got, b.want)
					}
				}
			}
		})
	}
	// The greedy client sends 10× its 100 events/s for 2 s.
	greedy := map[int]int{}
	var gmu sync.Mutex
	wg.Go(func() {
		for i := range 40 {
			var sb strings.Builder
			for j := range 50 {
				fmt.Fprintf(&sb, `{"event_id":"g%d-%d","type":"play","stream_id":"s","listener_id":"g%d-%d","ts":%d}`+"\n", i, j, i, j, time.Now().UnixMilli())
			}
			st := do(sb.String(), "greedy-token-0123456789", fmt.Sprintf("10.9.0.%d", i%200))
			gmu.Lock()
			greedy[st]++
			gmu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	})
	// The well-behaved player: one batch every 100 ms.
	player := client.New(ts.URL, appToken)
	player.MaxRetries = 0
	good := 0
	for i := range 30 {
		_, err := player.SendBatch(context.Background(), []client.Event{heartbeat(fmt.Sprint("p", i), "player", time.Now().UnixMilli())})
		if err != nil {
			t.Errorf("well-behaved client got %v during the abuse", err)
		} else {
			good++
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	if wrong.Load() > 0 {
		t.Fatalf("%d bad requests got the wrong status", wrong.Load())
	}
	// 40 requests of 50 events in ~2 s against 100 events/s with a burst of 100: about 6 fit;
	// allow for a slow machine stretching the run.
	if greedy[429] < 20 || greedy[200] > 15 || greedy[200] < 2 {
		t.Fatalf("greedy client statuses %v: want mostly 429", greedy)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > 256<<20 {
		t.Fatalf("heap in use %d MiB after the abuse", ms.HeapInuse>>20)
	}
	t.Logf("player: %d/30 accepted; greedy: %v; heap in use %d MiB", good, greedy, ms.HeapInuse>>20)
}

// testWriter sends the collector's log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestGracefulShutdownDrains stops the HTTP server while clients are posting: requests in
// flight finish, and every event that got a 200 is in Kafka after the producer closed.
func TestGracefulShutdownDrains(t *testing.T) {
	cfg := collector.DefaultConfig()
	cfg.Kafka.Brokers = []string{testenv.Kafka(t)}
	cfg.Kafka.Topic = testenv.Name(t, "events")
	cfg.Kafka.Partitions = 2
	cfg.Hash.Key = hashKey
	cfg.Tokens = []collector.Token{{Name: "app", Token: appToken}}
	cfg.Limits.IPRequestsPerSecond, cfg.Limits.IPBurst = 1e6, 1e6
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := eventlog.EnsureTopic(ctx, cfg.Kafka); err != nil {
		t.Fatal(err)
	}
	p := collector.NewProducer(cfg.Kafka, cfg.Limits.InflightEvents, cfg.Limits.KafkaTimeout)
	srv, err := collector.NewServer(cfg, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer()
	go hs.Serve(ln)
	url := "http://" + ln.Addr().String()

	var mu sync.Mutex
	acked := 0
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			c := client.New(url, appToken)
			c.MaxRetries = 0
			for n := 0; ; n++ {
				evs := make([]client.Event, 50)
				for i := range evs {
					evs[i] = heartbeat(fmt.Sprintf("w%d-%d-%d", w, n, i), fmt.Sprintf("l%d-%d-%d", w, n, i), time.Now().UnixMilli())
				}
				if _, err := c.SendBatch(context.Background(), evs); err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked += len(evs)
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	total := 0
	for _, msgs := range readAll(t, cfg.Kafka) {
		total += len(msgs)
	}
	if acked == 0 || total < acked {
		t.Fatalf("%d events acknowledged, %d in Kafka", acked, total)
	}
	t.Logf("%d events acknowledged before the shutdown, %d in Kafka", acked, total)
}
