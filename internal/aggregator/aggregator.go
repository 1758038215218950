package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/chsink"
)

// Aggregator consumes the events topic in a consumer group.
type Aggregator struct {
	cfg  Config
	log  *slog.Logger
	conn driver.Conn
	sink *chsink.Sink
	// commit writes the partitions' flushes together (commit.go); it lives while Run does.
	commit *committer
	// stateIO admits checkpoint reads and writes, one fewer at once than there are ClickHouse
	// connections: twelve partitions restoring or checkpointing together (start-up, hand-over)
	// would otherwise hold every connection for seconds and starve the committer's rows.
	stateIO chan struct{}
	reg     *prometheus.Registry
	m       metrics
}

type metrics struct {
	events       *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	rows         *prometheus.CounterVec
	lag          *prometheus.GaugeVec
	flush        prometheus.Histogram
	writeErrors  prometheus.Counter
	checkpoints  prometheus.Counter
	processedAge *prometheus.GaugeVec
	visible      prometheus.Histogram
	setsBuilt    prometheus.Counter
}

// New returns an Aggregator writing through conn.
func New(cfg Config, conn driver.Conn, log *slog.Logger) (*Aggregator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Aggregator{cfg: cfg, log: log, conn: conn, sink: chsink.New(conn), reg: prometheus.NewRegistry(),
		stateIO: make(chan struct{}, max(1, cfg.ClickHouse.MaxOpenConns-1))}
	a.m = metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "earshot_aggregator_events_total",
			Help: "Records folded into partition state."}, []string{"partition"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "earshot_aggregator_dropped_events_total",
			Help: "Records not applied, by reason (docs/operations.md); copies and late corrections are in delivery_stats."}, []string{"reason"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "earshot_aggregator_rows_written_total",
			Help: "Rows written to ClickHouse, by table."}, []string{"table"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "earshot_aggregator_consumer_lag",
			Help: "Messages between the partition's end and the worker's position."}, []string{"partition"}),
		flush: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "earshot_aggregator_flush_seconds",
			Help: "Time to write one flush (rows of closed windows) to ClickHouse.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_aggregator_write_errors_total",
			Help: "Failed ClickHouse calls (retried; nothing is committed until they succeed)."}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_aggregator_checkpoints_total", Help: "Checkpoints written."}),
		visible: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "earshot_aggregator_window_visible_seconds",
			Help: "From a minute's close (processing time passed it) to its minute and listener rows acknowledged by ClickHouse (the flush's raw events and clocks follow).", Buckets: prometheus.LinearBuckets(0.1, 0.1, 50)}),
		processedAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "earshot_aggregator_ingest_delay_seconds",
			Help: "Wall clock minus the partition's ingest clock (the newest collector time it has seen: ticks and records)."}, []string{"partition"}),
	}
	a.m.setsBuilt = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_aggregator_minute_sets_built_total",
		Help: "Minutes whose distinct sets were built from the listeners' minute bits, to be written."})
	a.reg.MustRegister(a.m.setsBuilt, a.m.events, a.m.dropped, a.m.rows, a.m.lag, a.m.flush, a.m.writeErrors, a.m.checkpoints, a.m.processedAge, a.m.visible,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return a, nil
}

// Registry is the aggregator's metrics registry (served on /metrics).
func (a *Aggregator) Registry() *prometheus.Registry { return a.reg }

// Handler serves /metrics, /healthz and /readyz, and with Config.Pprof net/http/pprof under
// /debug/pprof/.
func (a *Aggregator) Handler() http.Handler {
	mux := http.NewServeMux()
	if a.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.conn.Ping(ctx); err != nil {
			http.Error(w, "clickhouse: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		c := &kafkago.Client{Addr: kafkago.TCP(a.cfg.Kafka.Brokers...), Timeout: 2 * time.Second}
		if _, err := c.Metadata(ctx, &kafkago.MetadataRequest{}); err != nil {
			http.Error(w, "kafka: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	return mux
}

// Run consumes until ctx ends, then flushes, checkpoints and leaves the group.
func (a *Aggregator) Run(ctx context.Context) error {
	group, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:                a.cfg.Group,
		Brokers:           a.cfg.Kafka.Brokers,
		Topics:            []string{a.cfg.Kafka.Topic},
		StartOffset:       kafkago.FirstOffset,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  time.Second,
		Timeout:           5 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("cannot join consumer group %s: %w", a.cfg.Group, err)
	}
	// The committer outlives ctx: the workers' last flushes, after ctx ends, go through it.
	cctx, stopCommitter := context.WithCancel(context.WithoutCancel(ctx))
	a.commit = newCommitter(cctx, a.sink.Write)
	var wg sync.WaitGroup
	defer func() {
		wg.Wait() // workers flush and checkpoint before the group goes
		stopCommitter()
		group.Close()
	}()
	for {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, kafkago.ErrGroupClosed) {
				return err
			}
			a.log.Warn("consumer group", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		parts := gen.Assignments[a.cfg.Kafka.Topic]
		a.log.Info("partitions assigned", "generation", gen.ID, "member", gen.MemberID, "partitions", len(parts))
		for _, as := range parts {
			wg.Add(1)
			gen.Start(func(gctx context.Context) {
				defer wg.Done()
				if err := a.work(ctx, gctx, gen, uint16(as.ID)); err != nil {
					a.log.Error("partition worker stopped", "partition", as.ID, "err", err)
				}
			})
		}
	}
}

// work owns one partition for one generation: restore, consume, flush, checkpoint.
func (a *Aggregator) work(ctx, gctx context.Context, gen *kafkago.Generation, partition uint16) error {
	stop, cancel := context.WithCancel(gctx)
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-stop.Done():
		}
	}()
	w := &worker{a: a, gen: gen, partition: partition, label: strconv.Itoa(int(partition))}
	if err := w.restore(stop); err != nil {
		return err
	}
	reader := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: a.cfg.Kafka.Brokers, Topic: a.cfg.Kafka.Topic, Partition: int(partition),
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond,
	})
	defer reader.Close()
	if err := reader.SetOffset(w.next); err != nil {
		return fmt.Errorf("cannot seek partition %d to %d: %w", partition, w.next, err)
	}
	a.log.Info("partition started", "partition", partition, "offset", w.next)
	// The partitions' checkpoints are spread over the interval: partition p's first comes
	// after (1 − p/partitions) of it. Started together, every partition wrote its whole state at
	// the same instant — at 1.3M listeners a 276-MiB burst each minute that the rows of every
	// partition queued behind (make bench-night).
	lastCheckpoint := time.Now().Add(-checkpointStagger(partition, a.cfg.Kafka.Partitions, a.cfg.CheckpointInterval))
	for {
		start := time.Now()
		deadline := start.Add(a.cfg.FlushInterval)
		fctx, fcancel := context.WithDeadline(stop, deadline)
		for w.pending() < a.cfg.MaxPendingRows {
			m, err := reader.FetchMessage(fctx)
			if err != nil {
				break
			}
			w.add(m)
			if len(w.recs) == batchSize || reader.Lag() == 0 {
				w.apply()
				if w.st.Closed() {
					// A minute closed: its rows are written now, not up to a flush_interval
					// later (the delay from a minute's close to its rows, p99 ≤ 2 s at full
					// size) — but at most every minFlushGap: catching up on a backlog, some
					// stream's minute closes every few hundred records.
					if time.Since(start) >= minFlushGap {
						break
					}
					if early := start.Add(minFlushGap); early.Before(deadline) {
						deadline = early
						fcancel()
						fctx, fcancel = context.WithDeadline(stop, deadline)
					}
				}
			}
		}
		fcancel()
		w.apply()
		if stop.Err() != nil {
			// Generation over or shutting down: hand over cleanly.
			w.st.EmitOpen()
			fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer fcancel()
			return w.flush(fctx, true)
		}
		// Time moves with the records alone (the collectors' ticks among them), never with this
		// process's clock: while ingest stands still, so does every stream (docs/time.md).
		checkpoint := time.Since(lastCheckpoint) >= a.cfg.CheckpointInterval
		if err := w.flush(stop, checkpoint); err != nil {
			if stop.Err() != nil {
				return nil // not checkpointed: the next owner replays from the last checkpoint
			}
			return err
		}
		if checkpoint {
			lastCheckpoint = time.Now()
		}
		stats := reader.Stats()
		a.m.lag.WithLabelValues(w.label).Set(float64(stats.Lag))
		if w.st.Ingest() > 0 {
			a.m.processedAge.WithLabelValues(w.label).Set(time.Since(time.UnixMilli(w.st.Ingest())).Seconds())
		}
	}
}

// minFlushGap is the least time between a partition's flushes when minutes close (its
// flush_interval is the most).
const minFlushGap = 200 * time.Millisecond

// checkpointStagger is how far into its first checkpoint interval a partition starts: p/n of
// it, so that n partitions checkpoint evenly spread over the interval.
func checkpointStagger(partition uint16, partitions int, interval time.Duration) time.Duration {
	n := max(1, partitions)
	return interval * time.Duration(int(partition)%n) / time.Duration(n)
}

// withStateIO runs f, a checkpoint read or write, when stateIO admits it.
func (a *Aggregator) withStateIO(ctx context.Context, f func() error) error {
	select {
	case a.stateIO <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-a.stateIO }()
	return f()
}

// retry calls f until it succeeds or ctx ends, backing off from 200 ms to 10 s: ClickHouse being
// down delays the partition, it never drops or skips anything.
func retry(ctx context.Context, a *Aggregator, f func() error) error {
	backoff := 200 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		a.m.writeErrors.Inc()
		a.log.Warn("clickhouse call failed; retrying", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up writing: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}
