package collector

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/earshot/earshot/internal/config"
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

// TestEventTime checks every row of docs/time.md, "Event time (collector)", with the default
// limits (max_skew 30 s, clock_tolerance 2 s, max_event_age 30 min) and hand-computed answers.
func TestEventTime(t *testing.T) {
	p, err := NewPipeline(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	const now = 1_723_509_720_000 // 2024-08-13T00:42:00Z, the collector's clock
	const none = -1               // no sent_at
	const timeFlags = event.FlagTrustedTime | event.FlagTSClamped | event.FlagClockCorrected
	cases := []struct {
		name    string
		trusted bool
		ts      int64
		sentAt  int64
		at      int64 // wanted event time, if accepted
		flags   uint8 // wanted time flags, if accepted
		reason  event.Reason
	}{
		{"trusted: a week old, as sent", true, now - 7*86_400_000, none, now - 7*86_400_000, event.FlagTrustedTime, ""},
		{"trusted: exactly max_skew ahead", true, now + 30_000, none, now + 30_000, event.FlagTrustedTime, ""},
		{"trusted: past max_skew ahead", true, now + 30_001, none, 0, 0, event.ReasonTSInFuture},
		{"trusted: sent_at is ignored", true, now - 3_600_000, now - 7_200_000, now - 3_600_000, event.FlagTrustedTime, ""},

		{"sent_at: network delay only", false, now - 10_150, now - 150, now - 10_150, 0, ""},
		{"sent_at: offset just under tolerance", false, now - 6_999, now - 1_999, now - 6_999, 0, ""},
		{"sent_at: offset exactly tolerance", false, now - 7_000, now - 2_000, now - 5_000, event.FlagClockCorrected, ""},
		{"sent_at: ahead just under tolerance", false, now - 3_001, now + 1_999, now - 3_001, 0, ""},
		{"sent_at: ahead exactly tolerance", false, now - 3_000, now + 2_000, now - 5_000, event.FlagClockCorrected, ""},
		{"sent_at: +2.499 s rounds to +2 s", false, now - 3_499, now - 2_499, now - 1_499, event.FlagClockCorrected, ""},
		{"sent_at: +2.5 s rounds to +3 s", false, now - 3_500, now - 2_500, now - 500, event.FlagClockCorrected, ""},
		{"sent_at: -2.499 s rounds to -2 s", false, now + 1_499, now + 2_499, now - 501, event.FlagClockCorrected, ""},
		{"sent_at: -2.5 s rounds to -3 s", false, now + 1_500, now + 2_500, now - 1_500, event.FlagClockCorrected, ""},
		{"sent_at: clock 1 h behind, 80 ms delay", false, now - 3_610_080, now - 3_600_080, now - 10_080, event.FlagClockCorrected, ""},
		{"sent_at: clock 1 h ahead, 80 ms delay", false, now + 3_589_920, now + 3_599_920, now - 10_080, event.FlagClockCorrected, ""},
		{"sent_at: ts exactly max_skew after sent_at", false, now + 29_900, now - 100, now + 29_900, 0, ""},
		{"sent_at: ts past max_skew after sent_at", false, now + 29_901, now - 100, 0, 0, event.ReasonTSInFuture},
		{"sent_at: future judged against sent_at, not received", false, now + 3_610_000, now + 3_600_000, now + 10_000, event.FlagClockCorrected, ""},
		{"sent_at: exactly max_event_age old", false, now - 1_800_000, now, now - 1_800_000, 0, ""},
		{"sent_at: past max_event_age", false, now - 1_800_001, now, 0, 0, event.ReasonTSTooOld},
		{"sent_at: age judged after the correction", false, now - 3_601_000, now - 3_600_000, now - 1_000, event.FlagClockCorrected, ""},
		{"sent_at: too old after the correction", false, now + 1_740_000, now + 3_600_000, 0, 0, event.ReasonTSTooOld},

		{"neither: inside the window", false, now - 10_000, none, now - 10_000, 0, ""},
		{"neither: exactly max_skew old", false, now - 30_000, none, now - 30_000, 0, ""},
		{"neither: past max_skew old is clamped", false, now - 30_001, none, now - 30_000, event.FlagTSClamped, ""},
		{"neither: an hour old is clamped", false, now - 3_600_000, none, now - 30_000, event.FlagTSClamped, ""},
		{"neither: 1 ms ahead is clamped", false, now + 1, none, now, event.FlagTSClamped, ""},
		{"neither: exactly max_skew ahead is clamped", false, now + 30_000, none, now, event.FlagTSClamped, ""},
		{"neither: past max_skew ahead", false, now + 30_001, none, 0, 0, event.ReasonTSInFuture},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sentAt := ""
			if c.sentAt != none {
				sentAt = fmt.Sprintf(`,"sent_at":%d`, c.sentAt)
			}
			body := fmt.Sprintf(`{"event_id":"e","type":"play","stream_id":"s","listener_id":"u%d","ts":%d%s}`, i, c.ts, sentAt)
			b := convert(t, p, Source{TrustedTime: c.trusted}, time.UnixMilli(now), body)
			if c.reason != "" {
				if len(b.Msgs) != 0 || len(b.Resp.Errors) != 1 || b.Resp.Errors[0].Reason != c.reason || b.Invalid != 1 {
					t.Fatalf("want rejected %q, got %+v", c.reason, b.Resp)
				}
				return
			}
			if len(b.Msgs) != 1 {
				t.Fatalf("rejected: %+v", b.Resp)
			}
			r := decode(t, b, 0)
			if r.EventTime != c.at || r.Flags&timeFlags != c.flags || r.ReceivedAt != now {
				t.Fatalf("event time now%+d flags %07b received %d, want now%+d flags %07b", r.EventTime-now, r.Flags&timeFlags, r.ReceivedAt, c.at-now, c.flags)
			}
		})
	}
}

// TestRetriedCopiesGetOneEventTime sends one event twice, as a player retrying after a failed
// attempt does: each copy has its own sent_at and arrives after its own network delay, yet
// both get the same event time, so the aggregator can recognise the second as a copy.
func TestRetriedCopiesGetOneEventTime(t *testing.T) {
	p, err := NewPipeline(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	// When the event happened and each attempt was sent, by the collector's clock: the retry
	// goes 47 s after the first attempt, over a slower network.
	const happened int64 = 1_723_509_720_000
	attempts := []struct{ sent, delay int64 }{{happened + 5_000, 40}, {happened + 52_000, 310}}
	// offset is the client clock minus the collector's.
	for _, offset := range []int64{3_600_000, -3_600_000, 400, -400} {
		var times []int64
		for i, a := range attempts {
			body := fmt.Sprintf(`{"event_id":"e","type":"play","stream_id":"s","listener_id":"u","ts":%d,"sent_at":%d}`, happened+offset, a.sent+offset)
			b := convert(t, p, Source{}, time.UnixMilli(a.sent+a.delay), body)
			if len(b.Msgs) != 1 {
				t.Fatalf("offset %d ms, attempt %d: %+v", offset, i, b.Resp)
			}
			times = append(times, decode(t, b, 0).EventTime)
		}
		// A whole-second offset is removed exactly; one under clock_tolerance is left alone.
		want := happened
		if offset == 400 || offset == -400 {
			want = happened + offset
		}
		if times[0] != times[1] || times[0] != want {
			t.Errorf("offset %d ms: event times now%+d and now%+d, want both now%+d", offset, times[0]-happened, times[1]-happened, want-happened)
		}
	}
}

func TestClockCorrection(t *testing.T) {
	cases := []struct{ c, want int64 }{
		{0, 0}, {1_999, 0}, {-1_999, 0}, {2_000, 2_000}, {-2_000, -2_000},
		{2_499, 2_000}, {2_500, 3_000}, {-2_499, -2_000}, {-2_500, -3_000},
		{3_600_499, 3_600_000}, {3_600_500, 3_601_000}, {-3_600_500, -3_601_000},
	}
	for _, c := range cases {
		if got := clockCorrection(c.c, 2_000); got != c.want {
			t.Errorf("clockCorrection(%d) = %d, want %d", c.c, got, c.want)
		}
	}
	// Without a tolerance every offset is rounded, so under half a second is still none.
	if got := clockCorrection(499, 0); got != 0 {
		t.Errorf("clockCorrection(499, 0) = %d", got)
	}
	if got := clockCorrection(500, 0); got != 1_000 {
		t.Errorf("clockCorrection(500, 0) = %d", got)
	}
}

func TestPipelinePseudonymizesAndKeys(t *testing.T) {
	p, _ := NewPipeline(testConfig())
	b := convert(t, p, Source{Platform: true}, time.Now(), `[{"event_id":"e1","type":"heartbeat","stream_id":"space-1","listener_id":"alice@example.com","ts":1,"played_ms":10000,"muted":true},
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
	cfg.Hash.Key = config.Secret(strings.Repeat("z", 32))
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

// TestHostileTextRejected: ids that would rewrite a terminal or pass for another id never reach
// Kafka, and the answer says which field to fix without echoing the value.
func TestHostileTextRejected(t *testing.T) {
	p, _ := NewPipeline(testConfig())
	body := strings.Join([]string{
		`{"event_id":"a","type":"join","stream_id":"s\u001b[2J","listener_id":"u","ts":1}`,
		`{"event_id":"b","type":"join","stream_id":"s","listener_id":"u\r\nfake line","ts":1}`,
		`{"event_id":"c","type":"error","stream_id":"s","listener_id":"u","ts":1,"error_code":"net\u202ekrow"}`,
		`{"event_id":"d","type":"join","stream_id":"s","listener_id":"u","ts":1,"client":{"platform":"ios\u200b"}}`,
		`{"event_id":"e","type":"join","stream_id":"cafe\u0301","listener_id":"u","ts":1}`,
		`{"event_id":"f\u0085","type":"join","stream_id":"s","listener_id":"u","ts":1}`,
		`{"event_id":"g","type":"join","stream_id":"caf\u00e9","listener_id":"u","ts":1}`,
	}, "\n")
	b := convert(t, p, Source{}, time.Now(), body)
	want := []struct {
		reason event.Reason
		field  string
	}{{event.ReasonBadChars, "stream_id"}, {event.ReasonBadChars, "listener_id"}, {event.ReasonBadChars, "error_code"},
		{event.ReasonBadChars, "client.platform"}, {event.ReasonNotNFC, "stream_id"}, {event.ReasonBadChars, "event_id"}}
	if b.Resp.Accepted != 1 || len(b.Msgs) != 1 || len(b.Resp.Errors) != len(want) {
		t.Fatalf("accepted %d, errors %+v", b.Resp.Accepted, b.Resp.Errors)
	}
	for i, w := range want {
		e := b.Resp.Errors[i]
		if e.Index != i || e.Reason != w.reason || !strings.HasPrefix(e.Message, w.field+" must ") {
			t.Errorf("event %d: %+v, want %s about %s", i, e, w.reason, w.field)
		}
	}
}

// TestOversizedBatchBoundsResponse: past limits.max_events_per_request every event is refused,
// and only the first of them is listed, so that a body of tiny events (2 bytes each in NDJSON,
// a few hundred thousand in 1 MiB, from a gzip body of a few kB) cannot make a response many
// times the size of the request.
func TestOversizedBatchBoundsResponse(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.MaxEventsPerRequest = 8
	p, _ := NewPipeline(cfg)
	ok := `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":1}`
	for _, body := range []string{
		strings.Repeat("1\n", 1000),
		strings.Repeat(ok+"\n", 1000),
		"[" + strings.Repeat(ok+",", 999) + ok + "]",
	} {
		b := convert(t, p, Source{}, time.Now(), body)
		if b.Resp.Accepted+b.Resp.Rejected != 1000 || b.Invalid+b.Filtered != b.Resp.Rejected || len(b.Resp.Errors) > cfg.Limits.MaxReplyErrors {
			t.Fatalf("accepted %d rejected %d (invalid %d, filtered %d), %d errors listed", b.Resp.Accepted, b.Resp.Rejected,
				b.Invalid, b.Filtered, len(b.Resp.Errors))
		}
		if n := b.Resp.ErrorCounts[event.ReasonTooManyEventsInReq]; n != 992 || !b.Resp.ErrorsTruncated {
			t.Fatalf("%d counted too_many_events_in_request (want 992), truncated %v", n, b.Resp.ErrorsTruncated)
		}
	}
}

// TestEndEvents: an end event from a trusted token becomes one end record marked for every
// partition, keyed like a displayed event; from any other token it is filtered.
func TestEndEvents(t *testing.T) {
	p, _ := NewPipeline(testConfig())
	now := time.UnixMilli(1_723_509_720_000)
	const body = `{"event_id":"end-1","type":"end","stream_id":"replay-7","ts":1723500000000,"muted":true,"client":{"app":"importer"}}`
	b := convert(t, p, Source{TrustedTime: true}, now, body)
	if len(b.Msgs) != 1 || b.Resp.Accepted != 1 {
		t.Fatalf("trusted end: %+v", b.Resp)
	}
	r := decode(t, b, 0)
	want := event.Record{Type: event.TypeEnd, Flags: event.FlagTrustedTime, Listener: xxhash.Sum64String("replay-7"),
		Fingerprint: event.Fingerprint([]byte("end-1")), EventTime: 1723500000000, ReceivedAt: now.UnixMilli(), StreamID: []byte("replay-7")}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("end record\n got %+v\nwant %+v", r, want)
	}
	if m := b.Msgs[0]; binary.LittleEndian.Uint64(m.Key) != want.Listener || !isForEveryPartition(&m) {
		t.Fatalf("end message key %x headers %v: want the stream's key, for every partition", m.Key, m.Headers)
	}
	b = convert(t, p, Source{}, now, body)
	if len(b.Msgs) != 0 || b.Filtered != 1 || b.Resp.Errors[0].Reason != ReasonEndNotAllowed {
		t.Fatalf("untrusted end: %+v", b.Resp)
	}
}

func TestListenerRatesStayBounded(t *testing.T) {
	r := newListenerRates(2, 10*time.Second, 64*10)
	for i := range uint64(10_000) {
		r.allow(i<<32|i, 0, 0)
	}
	n := 0
	for i := range r.shards {
		n += len(r.shards[i].counts)
	}
	// Two entries per listener counted: its event window and its arrival window.
	if n > 640 || r.untracked.Load() != 10_000-int64(n/2) {
		t.Fatalf("table holds %d entries (max 640), untracked %d", n, r.untracked.Load())
	}
}

// TestListenerRatesByEventTime: a player's backlog after an outage — 180 heartbeats over 30
// minutes of its own time — arrives at once and passes; 31 events in one 10-s window of event
// time do not; nor do more than 12 × 30 events in one arrival window, whatever their times.
func TestListenerRatesByEventTime(t *testing.T) {
	r := newListenerRates(30, 10*time.Second, 1<<20)
	const now = int64(1_800_000_000_000)
	for i := range int64(180) {
		if ok, _, _ := r.allow(7, now-30*60_000+i*10_000, now); !ok {
			t.Fatalf("backlog heartbeat %d filtered", i)
		}
	}
	for i := range 31 {
		if ok, _, _ := r.allow(8, now-5000, now); ok != (i < 30) {
			t.Fatalf("event %d in one window of event time: allowed %v", i, ok)
		}
	}
	allowed := 0
	for i := range int64(1000) {
		if ok, _, _ := r.allow(9, now-i*10_000, now); ok {
			allowed++
		}
	}
	if allowed != backlogFactor*30 {
		t.Fatalf("%d events of one listener in one arrival window allowed, want %d", allowed, backlogFactor*30)
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
		ts := 1723507200000 + int64(i)
		fmt.Fprintf(&sb, `{"event_id":"evt-%08d","type":"heartbeat","stream_id":"1YqKDqWqdPLxV","listener_id":"user-%d","ts":%d,"played_ms":10000,"stalled_ms":0,"muted":false,"client":{"app":"x","version":"10.52","platform":"ios"},"sent_at":%d}`+"\n",
			i, i*7919, ts, ts+5000)
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

// TestDisplayedOnlyFromPlatform: the platform's displayed counter, which claims are checked
// against, is accepted only from a platform token; from any other (trusted_time included) it
// is filtered per event, beside the events that pass.
func TestDisplayedOnlyFromPlatform(t *testing.T) {
	p, _ := NewPipeline(testConfig())
	now := time.UnixMilli(1_723_509_720_000)
	const body = `{"event_id":"d1","type":"displayed","stream_id":"s","ts":1723509720000,"displayed_count":60000000}
{"event_id":"j1","type":"join","stream_id":"s","listener_id":"u","ts":1723509720000}`
	for _, src := range []Source{{}, {TrustedTime: true}} {
		b := convert(t, p, src, now, body)
		if b.Resp.Accepted != 1 || b.Filtered != 1 || len(b.Resp.Errors) != 1 || b.Resp.Errors[0].Index != 0 || string(b.Resp.Errors[0].Reason) != "displayed_not_allowed" {
			t.Fatalf("%+v: %+v", src, b.Resp)
		}
	}
	b := convert(t, p, Source{Platform: true}, now, body)
	if b.Resp.Accepted != 2 || decode(t, b, 0).DisplayedCount != 60_000_000 {
		t.Fatalf("platform: %+v", b.Resp)
	}
}

// TestListenerBudgetPerAddress: anyone may post as a known listener id; 30 heartbeats for
// listener X from address A used to spend X's budget for the window, and the real player's
// heartbeat from address B was then filtered as impossible. Budgets are per (listener, address).
func TestListenerBudgetPerAddress(t *testing.T) {
	p, _ := NewPipeline(testConfig())
	now := time.UnixMilli(1_723_509_720_000)
	beat := func(id string) string {
		return fmt.Sprintf(`{"event_id":"%s","type":"heartbeat","stream_id":"s","listener_id":"X","ts":1723509715000,"played_ms":10000}`, id)
	}
	var junk []string
	for i := range 30 {
		junk = append(junk, beat(fmt.Sprint("junk-", i)))
	}
	a, b := Source{Client: 0xA}, Source{Client: 0xB}
	if r := convert(t, p, a, now, strings.Join(junk, "\n")); r.Resp.Accepted != 30 {
		t.Fatalf("junk from A: %+v", r.Resp)
	}
	if r := convert(t, p, a, now, beat("junk-30")); r.Resp.Accepted != 0 {
		t.Fatalf("31st event from A in one window accepted: %+v", r.Resp)
	}
	if r := convert(t, p, b, now, beat("real")); r.Resp.Accepted != 1 {
		t.Fatalf("the real player's heartbeat from B: %+v", r.Resp)
	}
}

// TestRefundedEventsSpendNoBudget: events refused after conversion (token over its rate,
// Kafka unavailable) give their per-listener budget back, so that the client's retry is not
// filtered as impossible.
func TestRefundedEventsSpendNoBudget(t *testing.T) {
	p, _ := NewPipeline(testConfig())
	now := time.UnixMilli(1_723_509_720_000)
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf(`{"event_id":"e%d","type":"play","stream_id":"s","listener_id":"X","ts":1723509715000}`, i))
	}
	body := strings.Join(lines, "\n")
	for attempt := range 3 {
		b := convert(t, p, Source{Client: 7}, now, body)
		if b.Resp.Accepted != 30 {
			t.Fatalf("attempt %d: %+v", attempt, b.Resp)
		}
		p.Refund(b)
	}
	// A JSON array with a syntax error at the end: its events were counted, then refused.
	var b Batch
	if err := p.Convert([]byte("["+strings.Join(lines, ",")+",{"), Source{Client: 7}, now, &b); err == nil {
		t.Fatal("malformed array accepted")
	}
	if b := convert(t, p, Source{Client: 7}, now, body); b.Resp.Accepted != 30 {
		t.Fatalf("after refunds: %+v", b.Resp)
	}
	if b := convert(t, p, Source{Client: 7}, now, lines[0]); b.Resp.Accepted != 0 {
		t.Fatalf("the budget is spent, yet: %+v", b.Resp)
	}
}
