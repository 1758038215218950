package collector

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/pkg/event"
)

const testKey = "0123456789abcdef0123456789abcdef"

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Hash.Key = testKey
	cfg.Tokens = []Token{{Name: "app", Token: "app-token-0123456789"}}
	return cfg
}

func convert(t *testing.T, p *Pipeline, src Source, at time.Time, body string) *Batch {
	t.Helper()
	b := &Batch{}
	if err := p.Convert([]byte(body), src, at, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t *testing.T, b *Batch, i int) event.Record {
	t.Helper()
	var r event.Record
	if err := event.DecodeRecord(b.Msgs[i].Value, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPipelineClampsTimeUnlessTrusted(t *testing.T) {
	p, err := NewPipeline(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 8, 13, 0, 42, 0, 0, time.UTC)
	ms := now.UnixMilli()
	body := fmt.Sprintf(`{"event_id":"a","type":"join","stream_id":"s","listener_id":"u","ts":%d}
{"event_id":"b","type":"join","stream_id":"s","listener_id":"u","ts":%d}
{"event_id":"c","type":"join","stream_id":"s","listener_id":"u","ts":%d}
{"event_id":"d","type":"join","stream_id":"s","listener_id":"u","ts":%d}`, ms-10_000, ms-3_600_000, ms+60_000, ms-30_000)
	b := convert(t, p, Source{}, now, body)
	want := []struct {
		at      int64
		clamped bool
	}{{ms - 10_000, false}, {ms - 30_000, true}, {ms, true}, {ms - 30_000, false}}
	for i, w := range want {
		r := decode(t, b, i)
		if r.EventTime != w.at || (r.Flags&event.FlagTSClamped != 0) != w.clamped || r.ReceivedAt != ms {
			t.Errorf("event %d: time %d clamped %v received %d, want %d %v %d", i, r.EventTime, r.Flags&event.FlagTSClamped != 0, r.ReceivedAt, w.at, w.clamped, ms)
		}
	}
	// A trusted token (replays, backfills) keeps the client's time as sent.
	b = convert(t, p, Source{TrustedTime: true}, now, body)
	if r := decode(t, b, 1); r.EventTime != ms-3_600_000 || r.Flags&event.FlagTrustedTime == 0 {
		t.Fatalf("trusted: time %d flags %b", r.EventTime, r.Flags)
	}
}

func TestPipelinePseudonymizesAndKeys(t *testing.T) {
	p, _ := NewPipeline(testConfig())
	b := convert(t, p, Source{}, time.Now(), `[{"event_id":"e1","type":"heartbeat","stream_id":"space-1","listener_id":"alice@example.com","ts":1,"played_ms":10000,"muted":true},
		{"event_id":"e2","type":"play","stream_id":"space-1","listener_id":"alice@example.com","ts":2},
		{"event_id":"e3","type":"displayed","stream_id":"space-1","ts":3,"displayed_count":1200000}]`)
	if len(b.Msgs) != 3 || b.Resp.Accepted != 3 {
		t.Fatalf("accepted %d", len(b.Msgs))
	}
	for _, m := range b.Msgs {
		if bytes.Contains(m.Value, []byte("alice")) {
			t.Fatal("raw listener id reached the Kafka record")
		}
	}
	r0, r1, r2 := decode(t, b, 0), decode(t, b, 1), decode(t, b, 2)
	if r0.Listener != r1.Listener || r0.Listener == 0 || r0.KeyID != 1 {
		t.Fatalf("same listener hashed to %x and %x (key %d)", r0.Listener, r1.Listener, r0.KeyID)
	}
	if r0.PlayedMS != 10000 || !r0.Muted() || r0.Fingerprint == r1.Fingerprint || r2.DisplayedCount != 1200000 {
		t.Fatalf("fields lost: %+v %+v %+v", r0, r1, r2)
	}
	if got := binary.LittleEndian.Uint64(b.Msgs[0].Key); got != r0.Listener {
		t.Fatalf("Kafka key %x, want the listener key %x", got, r0.Listener)
	}
	// Different secret, different pseudonym.
	cfg := testConfig()
	cfg.Hash.Key = strings.Repeat("z", 32)
	p2, _ := NewPipeline(cfg)
	if r := decode(t, convert(t, p2, Source{}, time.Now(), `{"event_id":"e1","type":"play","stream_id":"space-1","listener_id":"alice@example.com","ts":1}`), 0); r.Listener == r0.Listener {
		t.Fatal("listener key does not depend on the secret")
	}
}

func TestPipelineFiltersAndReportsEveryRejection(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.ListenerEventsPerWindow = 3
	cfg.Limits.MaxEventsPerRequest = 8
	p, _ := NewPipeline(cfg)
	now := time.Now()
	var lines []string
	for i := range 5 { // listener "flood" sends 5 events: 2 over the limit of 3
		lines = append(lines, fmt.Sprintf(`{"event_id":"f%d","type":"play","stream_id":"s","listener_id":"flood","ts":1}`, i))
	}
	lines = append(lines, `{"event_id":"x","type":"join","stream_id":"other","listener_id":"u","ts":1}`) // 5: stream not allowed
	lines = append(lines, `{"event_id":"y","type":"nope","stream_id":"s","listener_id":"u","ts":1}`)     // 6: invalid
	lines = append(lines, `{"event_id":"z","type":"join","stream_id":"s","listener_id":"v","ts":1}`)     // 7: ok
	lines = append(lines, `{"event_id":"w","type":"join","stream_id":"s","listener_id":"w","ts":1}`)     // 8: over max events
	b := convert(t, p, Source{Streams: map[string]bool{"s": true}}, now, strings.Join(lines, "\n"))
	want := map[int]event.Reason{3: ReasonImpossibleRate, 4: ReasonImpossibleRate, 5: ReasonStreamNotAllowed,
		6: event.ReasonBadType, 8: event.ReasonTooManyEventsInReq}
	if b.Resp.Accepted != 4 || b.Resp.Rejected != 5 || len(b.Resp.Errors) != 5 || b.Invalid != 2 || b.Filtered != 3 {
		t.Fatalf("accepted %d rejected %d invalid %d filtered %d: %+v", b.Resp.Accepted, b.Resp.Rejected, b.Invalid, b.Filtered, b.Resp.Errors)
	}
	for _, e := range b.Resp.Errors {
		if want[e.Index] != e.Reason || e.Message == "" {
			t.Fatalf("event %d: %q, want %q", e.Index, e.Reason, want[e.Index])
		}
	}
	// A new window forgives the flood.
	b = convert(t, p, Source{}, now.Add(cfg.Limits.ListenerWindow), lines[0])
	if b.Resp.Accepted != 1 {
		t.Fatalf("next window: %+v", b.Resp)
	}
	// A declared bot's events are all filtered.
	b = convert(t, p, Source{Bot: true}, now, lines[7])
	if b.Resp.Accepted != 0 || b.Resp.Errors[0].Reason != ReasonDeclaredBot {
		t.Fatalf("bot: %+v", b.Resp)
	}
}

func TestListenerRatesStayBounded(t *testing.T) {
	r := newListenerRates(2, 10*time.Second, 64*10)
	for i := range uint64(10_000) {
		r.allow(i<<32|i, 0)
	}
	n := 0
	for i := range r.shards {
		n += len(r.shards[i].counts)
	}
	if n > 640 || r.untracked.Load() != 10_000-int64(n) {
		t.Fatalf("table holds %d entries (max 640), untracked %d", n, r.untracked.Load())
	}
}

func TestPartitionOfSpreadsKeys(t *testing.T) {
	const parts, n = 12, 120_000
	var counts [parts]int
	p, _ := NewPipeline(testConfig())
	for i := range n {
		_, k := p.hasher.Hash([]byte(fmt.Sprint("listener-", i)), 0)
		counts[PartitionOf(k, parts)]++
	}
	for i, c := range counts {
		if c < n/parts*95/100 || c > n/parts*105/100 {
			t.Fatalf("partition %d has %d of %d", i, c, n)
		}
	}
}

// BenchmarkConvert measures parse → validate → hash → encode per event, the collector's CPU
// path minus HTTP and Kafka. Target: ≥ 1M events/s per core.
func BenchmarkConvert(b *testing.B) {
	p, _ := NewPipeline(testConfig())
	var sb strings.Builder
	const n = 500
	for i := range n {
		fmt.Fprintf(&sb, `{"event_id":"evt-%08d","type":"heartbeat","stream_id":"1YqKDqWqdPLxV","listener_id":"user-%d","ts":%d,"played_ms":10000,"stalled_ms":0,"muted":false,"client":{"app":"x","version":"10.52","platform":"ios"}}`+"\n",
			i, i*7919, 1723507200000+int64(i))
	}
	body := []byte(sb.String())
	batch := &Batch{}
	src := Source{}
	now := time.UnixMilli(1723507200000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		batch.Reset()
		// Fresh window each round so the per-listener rate limit never filters.
		now = now.Add(time.Minute)
		if err := p.Convert(body, src, now, batch); err != nil || len(batch.Msgs) != n {
			b.Fatalf("%v, %d msgs", err, len(batch.Msgs))
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(n*b.N), "ns/event")
}
