package aggregator_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/session"
	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/pkg/event"
)

// TestBrokerOutageDuringALiveStream: a live stream (timestamps now) of players that send
// through pkg/client's Buffered, with the broker stopped for 60 s at its peak while they keep
// playing and retrying. The final figures equal the same events applied in order (the run
// without the outage), and no listener is shown timing out: the outage stopped the stream's
// clock (no collector tick reached Kafka), and the players' buffered events kept their time.
func TestBrokerOutageDuringALiveStream(t *testing.T) {
	broker := testenv.ScratchBroker(t, 19192)
	e := newEnvWithBroker(t, 4, broker.Addr())
	const stream = "live-outage"

	ccfg := collector.DefaultConfig()
	ccfg.Kafka = e.kafka
	ccfg.Hash.Key = "integration-hashing-key-0123456789abcdef"
	ccfg.Tokens = []collector.Token{{Name: "players", Token: "player-token-0123456789"}}
	ccfg.Limits.IPRequestsPerSecond, ccfg.Limits.IPBurst = 1e6, 1e6
	ccfg.Limits.KafkaTimeout = 2 * time.Second
	producer := collector.NewProducer(ccfg.Kafka, ccfg.Limits.InflightEvents, ccfg.Limits.KafkaTimeout)
	defer producer.Close()
	srv, err := collector.NewServer(ccfg, producer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.RunTicks(ctx)
	stop := e.runAggregator()
	defer stop()

	// Players: join over the first 10 s, play, beat every 2 s with the audio since the last
	// beat, leave at the end. Every event they make is kept for the reference run.
	const players = 40
	var mu sync.Mutex
	var made []client.Event
	var bufs []*client.Buffered
	start := time.Now()
	outageAt, outageFor, end := 25*time.Second, 60*time.Second, 115*time.Second
	var wg sync.WaitGroup
	for i := range players {
		c := client.New(ts.URL, "player-token-0123456789")
		c.MaxRetries, c.MinBackoff, c.MaxBackoff, c.BatchSize = 2, 100*time.Millisecond, time.Second, 500
		b := client.NewBuffered(c, 10_000)
		bufs = append(bufs, b)
		go b.Run(ctx)
		wg.Go(func() {
			id := fmt.Sprintf("player-%02d", i)
			n := 0
			emit := func(e client.Event) {
				n++
				e.EventID, e.StreamID, e.ListenerID, e.TS = fmt.Sprintf("%s-%d", id, n), stream, id, time.Now().UnixMilli()
				mu.Lock()
				made = append(made, e)
				mu.Unlock()
				b.Add(e)
			}
			time.Sleep(time.Duration(i) * 250 * time.Millisecond)
			emit(client.Event{Type: "join"})
			time.Sleep(500 * time.Millisecond)
			emit(client.Event{Type: "play"})
			last := time.Now()
			for time.Since(start) < end {
				time.Sleep(2 * time.Second)
				now := time.Now()
				emit(client.Event{Type: "heartbeat", PlayedMS: client.Int(now.Sub(last).Milliseconds())})
				last = now
			}
			emit(client.Event{Type: "leave"})
		})
	}
	time.Sleep(outageAt)
	broker.Stop()
	t.Logf("broker stopped at %s", time.Since(start).Round(time.Second))
	time.Sleep(outageFor)
	broker.Start()
	t.Logf("broker back at %s", time.Since(start).Round(time.Second))
	wg.Wait()
	fctx, fcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer fcancel()
	var retried bool
	for _, b := range bufs {
		if err := b.Flush(fctx); err != nil {
			t.Fatal(err)
		}
		s := b.Stats()
		if s.Dropped != 0 || s.Rejected != 0 {
			t.Fatalf("a player lost events: %+v", s)
		}
		retried = retried || s.Deferred > 0
	}
	if !retried {
		t.Fatal("no player had to keep events through the outage: it was not tested")
	}
	mu.Lock()
	events := slices.Clone(made)
	mu.Unlock()
	// The stream is over: close it, so that every figure is final now rather than after the
	// correction horizon.
	var lastTS int64
	for _, ev := range events {
		lastTS = max(lastTS, ev.TS)
	}
	if err := producer.WriteEveryPartition(ctx, collector.EndRecord(stream, "live-outage-end", lastTS)); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer wcancel()
	if err := report.WaitFinal(wctx, e.conn, stream, e.kafka.Partitions); err != nil {
		t.Fatal(err)
	}

	// The reference is the records the collector wrote (their event times are the collector's,
	// corrected by sent_at), applied in order of time.
	var recs []event.Record
	corrected := 0
	for _, msgs := range testenv.ReadTopic(t, broker.Addr(), e.kafka.Topic, e.kafka.Partitions) {
		for _, m := range msgs {
			var r event.Record
			if err := event.DecodeRecord(m.Value, &r); err != nil {
				t.Fatal(err)
			}
			if !r.Type.Control() && r.Type != event.TypeEnd {
				recs = append(recs, r)
				if r.Flags&event.FlagClockCorrected != 0 {
					corrected++
				}
			}
		}
	}
	if len(recs) < len(events) {
		t.Fatalf("%d records in Kafka, %d events made", len(recs), len(events))
	}
	want := inOrder(t, stream, recs)
	got := storedMinutes(t, e, stream)
	if len(got) != len(want) {
		t.Fatalf("%d minutes stored, %d in order", len(got), len(want))
	}
	for m, w := range want {
		g, ok := got[m]
		if !ok {
			t.Fatalf("minute %s: no row", time.UnixMilli(m).UTC().Format("15:04"))
		}
		if g != w {
			t.Errorf("minute %s differs from in-order delivery:\n stored   %+v\n in order %+v", time.UnixMilli(m).UTC().Format("15:04"), g, w)
		}
		if g.timeouts != 0 {
			t.Errorf("minute %s: %d listeners shown timing out", time.UnixMilli(m).UTC().Format("15:04"), g.timeouts)
		}
	}
	var late uint64
	e.conn.QueryRow(ctx, "SELECT sum(late) FROM delivery_stats FINAL WHERE stream_id = ?", stream).Scan(&late)
	t.Logf("%d events from %d players, %d minutes; %d applied as corrections; %d records with clock-corrected times",
		len(events), players, len(want), late, corrected)
}

// newEnvWithBroker is newEnv on a broker of the test's own.
func newEnvWithBroker(t *testing.T, partitions int, broker string) *env {
	t.Helper()
	e := &env{t: t, ch: testenv.ClickHouseConfig(t), group: testenv.Name(t, "group")}
	e.kafka = eventlog.DefaultConfig()
	e.kafka.Brokers = []string{broker}
	e.kafka.Topic = testenv.Name(t, "events")
	e.kafka.Partitions = partitions
	return e.setUp()
}

// minuteFigures are what a minute shows, all partitions together.
type minuteFigures struct {
	connected, hearing, peak, peakHearing    uint64
	joins, leaves, timeouts, plays, failures uint64
	played                                   uint64
	connectedPerSec, hearingPerSec           string
}

// inOrder applies the records (copies included) in order of time in one partition, as one
// import, and returns its final minutes.
func inOrder(t *testing.T, stream string, recs []event.Record) map[int64]minuteFigures {
	t.Helper()
	slices.SortStableFunc(recs, func(a, b event.Record) int { return cmp.Compare(a.EventTime, b.EventTime) })
	p := session.New(session.DefaultConfig(), 0)
	for i := range recs {
		r := recs[i]
		r.Flags |= event.FlagTrustedTime
		r.ReceivedAt = r.EventTime
		p.Add(&r, int64(i))
	}
	last := recs[len(recs)-1].EventTime
	end := event.Record{Type: event.TypeEnd, Flags: event.FlagTrustedTime, StreamID: []byte(stream), EventTime: last, ReceivedAt: last}
	p.Add(&end, int64(len(recs)))
	out := map[int64]minuteFigures{}
	for _, m := range p.TakeOutput().Minutes {
		r, err := m.Row(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r.Deleted {
			continue
		}
		out[m.Start] = figuresOf(r)
	}
	return out
}

func figuresOf(r window.MinuteRow) minuteFigures {
	peak := func(ps []uint32) uint64 { return uint64(slices.Max(ps)) }
	return minuteFigures{connected: uint64(r.Connected.Value), hearing: uint64(r.Hearing.Value),
		peak: peak(r.ConnectedPerSec), peakHearing: peak(r.HearingPerSec), joins: r.Joins, leaves: r.Leaves,
		timeouts: r.Timeouts, plays: r.Plays, failures: r.StartFailures, played: r.PlayedMS,
		connectedPerSec: fmt.Sprint(r.ConnectedPerSec), hearingPerSec: fmt.Sprint(r.HearingPerSec)}
}

// storedMinutes reads a stream's final minutes from ClickHouse, partitions summed.
func storedMinutes(t *testing.T, e *env, stream string) map[int64]minuteFigures {
	t.Helper()
	rows, err := e.conn.Query(context.Background(), `SELECT minute, connected, hearing, peak_concurrent, peak_concurrent_hearing,
			joins, leaves, timeouts, plays, start_failures, played_ms, connected_per_sec, hearing_per_sec, final
		FROM stream_minutes WHERE stream_id = ? ORDER BY minute`, stream)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]minuteFigures{}
	for rows.Next() {
		var (
			at             time.Time
			conn, hear     float64
			f              minuteFigures
			connPS, hearPS []uint64
			final          uint8
		)
		if err := rows.Scan(&at, &conn, &hear, &f.peak, &f.peakHearing, &f.joins, &f.leaves, &f.timeouts, &f.plays,
			&f.failures, &f.played, &connPS, &hearPS, &final); err != nil {
			t.Fatal(err)
		}
		if final != 1 {
			t.Fatalf("minute %s is not final", at.Format("15:04"))
		}
		f.connected, f.hearing = uint64(conn), uint64(hear)
		c32, h32 := make([]uint32, len(connPS)), make([]uint32, len(hearPS))
		for i := range connPS {
			c32[i] = uint32(connPS[i])
		}
		for i := range hearPS {
			h32[i] = uint32(hearPS[i])
		}
		f.connectedPerSec, f.hearingPerSec = fmt.Sprint(c32), fmt.Sprint(h32)
		out[at.UnixMilli()] = f
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
