package collector

// Review 3 of the collector's front door: each test here failed on the code as reviewed and
// names the defect it found; all are fixed.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/pkg/event"
)

// kafkaGoLike stands in for kafkago.Writer in synchronous mode, as v0.4.51 behaves
// (Writer.WriteMessages): the messages are put in batches first, then the call waits for the
// batches or for ctx; when ctx ends first it returns ctx.Err(), and the batches already queued
// are written anyway. server.go:244 says as much ("kafka-go may still hold the messages").
// onWrite runs after the messages are queued: a test uses it to hang up the client.
type kafkaGoLike struct {
	mu      sync.Mutex
	written []kafkago.Message
	onWrite func()
}

func (k *kafkaGoLike) WriteMessages(ctx context.Context, msgs ...kafkago.Message) error {
	k.mu.Lock()
	for _, m := range msgs {
		m.Value = bytes.Clone(m.Value)
		k.written = append(k.written, m)
	}
	k.mu.Unlock()
	if k.onWrite != nil {
		k.onWrite()
	}
	select {
	case <-ctx.Done():
		return ctx.Err() // the queued batch is still produced
	case <-time.After(5 * time.Millisecond): // acks=all
		return nil
	}
}

func (k *kafkaGoLike) Close() error { return nil }

func (k *kafkaGoLike) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.written)
}

// review3Server is a Server whose Kafka is w, for handler-level tests (no listener).
func review3Server(t *testing.T, w messageWriter, mutate func(*Config)) *Server {
	t.Helper()
	cfg := testConfig()
	cfg.Kafka = eventlog.Config{Brokers: []string{"127.0.0.1:1"}, Topic: "unused", Partitions: 1, ReplicationFactor: 1}
	cfg.TickInterval = 0
	if mutate != nil {
		mutate(&cfg)
	}
	p := &Producer{w: w, capacity: 1 << 20, timeout: 2 * time.Second,
		countPartitions: func(context.Context) (int, error) { return 1, nil }}
	s, err := NewServer(cfg, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReview3HangUpKeepsBudgetRefund: the per-listener budget (30 events per 10 s, per
// listener and address) is given back whenever producer.Write fails, and producer.Write is
// bound to the request's context. A client that hangs up right after sending its body cancels
// that context while kafka-go is waiting for acks: Write returns context.Canceled, the handler
// refunds the budget (server.go:247), and kafka-go writes the queued batch anyway. Repeating it
// posts any number of events for one listener from one address, past givt_impossible_rate.
// (The token's rate is not refunded, but its default is 200 000 events/s.)
func TestReview3HangUpKeepsBudgetRefund(t *testing.T) {
	k := &kafkaGoLike{}
	s := review3Server(t, k, nil)
	const perWindow = 30 // limits.listener_events_per_window
	for attempt := range 5 {
		var lines []string
		now := time.Now().UnixMilli()
		for i := range perWindow {
			lines = append(lines, fmt.Sprintf(`{"event_id":"a%d-%d","type":"play","stream_id":"s","listener_id":"X","ts":%d}`, attempt, i, now))
		}
		ctx, hangUp := context.WithCancel(context.Background())
		k.onWrite = hangUp // the client closes the connection while the collector waits for acks
		req := httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(strings.Join(lines, "\n"))).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer app-token-0123456789")
		s.handleEvents(httptest.NewRecorder(), req)
		hangUp()
	}
	// One 10-s window allows 30 events of listener X from this address; allow a second window
	// in case the test straddles a boundary.
	if n := k.count(); n > 2*perWindow {
		t.Fatalf("%d events of one listener from one address reached Kafka within seconds (budget %d per 10 s): "+
			"hanging up after the body refunds the budget while kafka-go still writes the batch", n, perWindow)
	}
}

// TestReview3SlowBodyResetsListenerBudgets: listenerRates keeps only the current arrival
// window per shard and clears the shard whenever a call's window differs from the shard's
// (pipeline.go:477-480), also when it is an *earlier* one. The pipeline is given the request's
// start time (server.go:168, before the body is read), so a request whose body straddled a
// window boundary moves the shard back and clears it, and the next request moves it forward and
// clears it again: every budget in the shard starts over. The stream admission guards against
// this ("its clock only moves forward"); the listener budgets do not.
func TestReview3SlowBodyResetsListenerBudgets(t *testing.T) {
	p, _ := NewPipeline(testConfig())
	const w1 = 1_723_509_720_000 // the start of a 10-s window
	now := time.UnixMilli(w1 + 1_000)
	src := Source{Client: 0xA}
	body := func(prefix string, ts int64) string {
		var lines []string
		for i := range 30 {
			lines = append(lines, fmt.Sprintf(`{"event_id":"%s%d","type":"play","stream_id":"s","listener_id":"X","ts":%d}`, prefix, i, ts))
		}
		return strings.Join(lines, "\n")
	}
	if b := convert(t, p, src, now, body("a", w1+500)); b.Resp.Accepted != 30 {
		t.Fatalf("first 30: %+v", b.Resp)
	}
	if b := convert(t, p, src, now, `{"event_id":"b","type":"play","stream_id":"s","listener_id":"X","ts":1723509720500}`); b.Resp.Accepted != 0 {
		t.Fatalf("31st event in the window accepted: %+v", b.Resp)
	}
	// A request from the same address whose headers arrived 1.5 s earlier, in the previous
	// window, and whose body arrived just now.
	convert(t, p, src, time.UnixMilli(w1-500), `{"event_id":"slow","type":"play","stream_id":"s","listener_id":"X","ts":1723509719400}`)
	if b := convert(t, p, src, now, body("c", w1+500)); b.Resp.Accepted != 0 {
		t.Fatalf("after one slow request, %d more events of listener X in the same window accepted (budget 30, spent): "+
			"an earlier request time cleared the shard", b.Resp.Accepted)
	}
}

// TestReview3PooledBodyBufferIsCharged: limits.max_inflight_bytes charges the bytes a body has
// delivered (heldReader), but the memory a body holds is its buffer, and buffers come from a
// pool that keeps any of up to max_body_bytes + 512 (server.go:297-301). After one full-size
// body, a slow request that sends one byte and stalls until read_timeout (10 s) holds a 1-MiB
// buffer charged 1 byte: a few requests a second per address, alternating full bodies and
// stalled ones, hold gigabytes that the budget never sees.
func TestReview3PooledBodyBufferIsCharged(t *testing.T) {
	s, _ := newTestCollector(t, nil)
	limit := s.cfg.Limits.MaxBodyBytes
	// What a full-size body leaves behind for the pool.
	big := bytes.NewBuffer(make([]byte, 0, limit))
	if big.Cap() > int(limit)+bytes.MinRead {
		t.Fatal("setup: the pool would not keep this buffer")
	}
	pr, pw := io.Pipe()
	req := httptest.NewRequest(http.MethodPost, "/v1/events", pr)
	req.ContentLength = limit
	go pw.Write([]byte("{")) // then stalls
	var held int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		held, _ = s.readBody(req, big)
	}()
	for deadline := time.Now().Add(5 * time.Second); s.inflight.used.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	charged := s.inflight.used.Load()
	pw.CloseWithError(io.ErrUnexpectedEOF)
	<-done
	s.inflight.release(held)
	if charged < int64(big.Cap())/2 {
		t.Fatalf("a stalled body holds a %d-byte pooled buffer, but max_inflight_bytes is charged %d bytes", big.Cap(), charged)
	}
}

// TestReview3ForeignOriginCanPost: docs/security.md lists "a browser page of someone else's"
// as stopped by CORS origins named per token, and docs/operations.md says of an empty
// cors_origins "no browser may post". But CORS only hides the answer: a POST with a
// CORS-safelisted Content-Type and the token in the query string (exactly what sendBeacon or
// fetch(…, {mode: "no-cors"}) send, with no preflight) is processed in full, and its events go
// to Kafka. Browsers send Origin on every POST, so the collector could refuse one from an
// origin the token does not name; it never looks at Origin before forwarding. Any page can make
// its visitors' browsers post a public player token's events from thousands of real addresses.
func TestReview3ForeignOriginCanPost(t *testing.T) {
	k := &kafkaGoLike{}
	s := review3Server(t, k, func(c *Config) { c.Tokens[0].CORSOrigins = []string{"https://player.example"} })
	ev := fmt.Sprintf(`{"event_id":"e1","type":"join","stream_id":"s","listener_id":"u","ts":%d}`, time.Now().UnixMilli())
	req := httptest.NewRequest(http.MethodPost, "/v1/events?token=app-token-0123456789", strings.NewReader(ev))
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	rec := httptest.NewRecorder()
	s.handleEvents(rec, req)
	if n := k.count(); n != 0 || rec.Code == http.StatusOK {
		t.Fatalf("a no-cors POST from https://evil.example with the token of https://player.example: status %d, "+
			"%d event(s) written to Kafka", rec.Code, n)
	}
}

// TestReview3TooManyEventsListedOnce: docs/operations.md says of too_many_events_in_request
// "Only the first such event is listed; the others are counted in rejected and the metric";
// the pipeline lists each of them (pipeline.go:180) until max_reply_errors. The reply stays
// bounded, but clients and the docs disagree on what it holds.
func TestReview3TooManyEventsListedOnce(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.MaxEventsPerRequest = 1
	p, _ := NewPipeline(cfg)
	ok := `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":1}`
	b := convert(t, p, Source{}, time.Now(), strings.Repeat(ok+"\n", 5))
	n := 0
	for _, e := range b.Resp.Errors {
		if e.Reason == event.ReasonTooManyEventsInReq {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d too_many_events_in_request entries listed, docs/operations.md promises 1", n)
	}
}

// TestReview3BodyReadErrorNamesNoAddress: a body that stops arriving until read_timeout gets
// the reply {"error":"cannot read body: read tcp 10.0.3.7:8080->…: i/o timeout"} (body.go:55
// quotes the net error): the collector's own (internal) address and port, which /readyz was
// changed never to reveal. The reply should say the body could not be read, and no more.
func TestReview3BodyReadErrorNamesNoAddress(t *testing.T) {
	s, _ := newTestCollector(t, nil)
	hs := httptest.NewUnstartedServer(s.Handler())
	hs.Config.ReadTimeout = 300 * time.Millisecond
	hs.Start()
	t.Cleanup(hs.Close)
	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-token-0123456789\r\nContent-Length: 100\r\n\r\n{\"event_id\"")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, _ := io.ReadAll(conn)
	if host, _, _ := net.SplitHostPort(hs.Listener.Addr().String()); bytes.Contains(reply, []byte(host+":")) {
		t.Fatalf("the reply names the collector's address:\n%s", reply)
	}
}
