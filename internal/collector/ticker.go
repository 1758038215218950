package collector

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/pkg/event"
)

// tickLogEvery bounds how often a run of failed ticks is logged: a broker outage fails a tick
// every second, and one line a minute with the count says as much.
const tickLogEvery = time.Minute

// ticker writes the collector's clock to every partition every interval, as a tick record
// (docs/record.md). An aggregator partition's ingest clock is the newest collector time it has
// seen, so it moves while ingest works and stands still while it does not (docs/time.md).
//
// Ticks go straight to the writer: they take nothing from the in-flight event budget and hold
// no lock a request needs, so a slow or failing tick never delays a request. One tick is
// written at a time; ticks due while one is still being written are skipped (time.Ticker).
type ticker struct {
	producer *Producer
	interval time.Duration
	// id is the fingerprint of this process's ticks, so that aggregators can tell collectors
	// apart (e.g. one whose clock runs ahead).
	id      uint64
	now     func() time.Time
	log     *slog.Logger
	ok, bad prometheus.Counter
	// failures counts failed ticks since the last success; lastLog is when one was logged.
	failures int
	lastLog  time.Time
}

func newTicker(p *Producer, interval time.Duration, log *slog.Logger, results *prometheus.CounterVec) *ticker {
	return &ticker{producer: p, interval: interval, id: rand.Uint64(), now: time.Now, log: log,
		ok: results.WithLabelValues("ok"), bad: results.WithLabelValues("error")}
}

// run ticks until ctx ends. It returns at once when the interval is 0 (ticks disabled).
func (t *ticker) run(ctx context.Context) {
	if t.interval <= 0 {
		return
	}
	tk := time.NewTicker(t.interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			t.tick(ctx)
		}
	}
}

// tick writes one tick record to every partition, counts the outcome and logs failures,
// rate-limited. A tick cut short by ctx (shutdown) is neither.
func (t *ticker) tick(ctx context.Context) {
	now := t.now()
	err := t.producer.WriteEveryPartition(ctx, tickRecord(t.id, now.UnixMilli()))
	switch {
	case err == nil:
		t.ok.Inc()
		if t.failures > 0 {
			t.log.Info("ticks written again", "failed_ticks", t.failures)
			t.failures = 0
		}
	case ctx.Err() != nil:
	default:
		t.bad.Inc()
		t.failures++
		if t.failures == 1 || now.Sub(t.lastLog) >= tickLogEvery {
			t.log.Warn("cannot write ticks; aggregators see no ingest progress from this collector",
				"failed_ticks", t.failures, "err", err)
			t.lastLog = now
		}
	}
}

// tickRecord encodes a tick: the collector's clock (unix ms) as event time and received time,
// no stream, listener key 0, and the collector's id as fingerprint.
func tickRecord(id uint64, nowMillis int64) []byte {
	return event.AppendRecord(nil, &event.Record{Type: event.TypeTick, Fingerprint: id, EventTime: nowMillis, ReceivedAt: nowMillis})
}
