package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/chsink"
	"github.com/earshot/earshot/internal/session"
	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
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

type worker struct {
	a         *Aggregator
	gen       *kafkago.Generation
	partition uint16
	label     string
	st        *session.Partition
	next      int64 // offset to resume from
	// slot holds the newest checkpoint's chunks; the next checkpoint goes into the other.
	slot uint8
	raw  []chsink.RawEvent
	// recs are decoded records not applied yet, at offsets; their byte slices alias the Kafka
	// messages' values, which nothing reuses.
	recs    []event.Record
	offsets []int64
	values  [][]byte // the records' Kafka values, for dead letters
	// dead are the records refused since the last flush, with their values.
	dead      []chsink.DeadLetter
	dropped   map[string]uint64 // reported totals, to export deltas
	setsBuilt uint64
	// names are the stream ids and error codes of buffered raw events, shared (intern).
	names map[string]string
}

// maxNames bounds names: a partition sees a few streams at a time, but over months many.
const maxNames = 4096

// intern returns a string equal to b, the same one for every event of a stream.
func (w *worker) intern(b []byte) string {
	if s, ok := w.names[string(b)]; ok { // no allocation: the compiler looks b up in place
		return s
	}
	if len(w.names) >= maxNames || w.names == nil {
		w.names = make(map[string]string)
	}
	s := string(b)
	w.names[s] = s
	return s
}

func (w *worker) restore(ctx context.Context) error {
	a := w.a
	var cp chsink.Checkpoint
	var err error
	// ClickHouse may be down: wait for it (the partition cannot start without its state).
	if rerr := retry(ctx, a, func() error {
		return a.withStateIO(ctx, func() error {
			cp, err = a.sink.LoadCheckpoint(ctx, a.cfg.Group, a.cfg.Kafka.Topic, w.partition)
			if errors.Is(err, chsink.ErrNoCheckpoint) {
				return nil
			}
			return err
		})
	}); rerr != nil {
		return rerr
	}
	switch {
	case errors.Is(err, chsink.ErrNoCheckpoint):
		w.st = session.New(a.cfg.Session, w.partition)
		w.next = kafkago.FirstOffset
	case err != nil:
		return err
	default:
		st, err := session.Restore(a.cfg.Session, cp.State)
		if err != nil {
			return fmt.Errorf("partition %d: %w", w.partition, err)
		}
		w.st, w.next, w.slot = st, cp.NextOffset, cp.Slot
	}
	w.dropped = map[string]uint64{}
	for k, v := range w.st.Dropped {
		w.dropped[k] = v
	}
	return nil
}

func (w *worker) pending() int { return len(w.raw) }

// batchSize records are applied together (session.Partition.AddBatch overlaps their table
// lookups): large enough for that, small enough to keep the latency of a quiet stream nil (a
// batch is also applied whenever the reader has caught up).
const batchSize = 256

func (w *worker) add(m kafkago.Message) {
	w.recs = append(w.recs, event.Record{})
	r := &w.recs[len(w.recs)-1]
	if err := event.DecodeRecord(m.Value, r); err != nil {
		w.recs = w.recs[:len(w.recs)-1]
		w.a.m.dropped.WithLabelValues("corrupt_record").Inc()
		w.apply()
		w.st.Offset = m.Offset
		w.deadLetter(m.Offset, "corrupt_record", err.Error(), m.Value)
		return
	}
	w.offsets = append(w.offsets, m.Offset)
	w.values = append(w.values, m.Value)
	if w.a.cfg.RawEvents && !r.Type.Control() {
		w.raw = append(w.raw, chsink.NewRawEvent(w.partition, m.Offset, r, w.intern))
	}
}

// apply folds the decoded records into the partition state.
func (w *worker) apply() {
	if len(w.recs) == 0 {
		return
	}
	w.st.AddBatch(w.recs, w.offsets)
	w.a.m.events.WithLabelValues(w.label).Add(float64(len(w.recs)))
	// The records the partition refused become dead letters now, while their values are at hand.
	for _, r := range w.st.TakeRefused() {
		i, _ := slices.BinarySearch(w.offsets, r.Offset)
		var v []byte
		if i < len(w.offsets) && w.offsets[i] == r.Offset {
			v = w.values[i]
		}
		w.deadLetter(r.Offset, r.Reason, r.Detail, v)
	}
	clear(w.values) // they alias Kafka messages: let them go
	w.recs, w.offsets, w.values = w.recs[:0], w.offsets[:0], w.values[:0]
}

// deadLetter keeps a refused record for the dead-letter table, with a copy of at most
// chsink.MaxDeadLetterBytes of its value.
func (w *worker) deadLetter(offset int64, reason, detail string, value []byte) {
	w.a.log.Warn("record refused; written to dead_letters", "partition", w.partition, "offset", offset, "reason", reason,
		"detail", detail)
	w.dead = append(w.dead, chsink.DeadLetter{Topic: w.a.cfg.Kafka.Topic, Partition: w.partition, Offset: offset,
		Reason: reason, Detail: detail, Value: slices.Clone(value[:min(len(value), chsink.MaxDeadLetterBytes)]),
		SeenAt: time.Now()})
}

// flush writes everything emitted since the last flush, retrying until ClickHouse takes it or
// ctx ends; with checkpoint it then stores the state and commits the offset.
func (w *worker) flush(ctx context.Context, checkpoint bool) error {
	a := w.a
	out := w.st.TakeOutput()
	version := uint64(max(w.st.Offset, 0))
	b := chsink.Batch{Listeners: out.Listeners, Raw: w.raw, DeadLetters: w.dead}
	var closedAt []time.Time
	for _, m := range out.Minutes {
		r, err := m.Row(w.partition, version)
		if errors.Is(err, window.ErrNegative) {
			// A bug, not a reason to stop the partition: written with the counter at 0.
			a.m.dropped.WithLabelValues("negative_counter").Inc()
			a.log.Error("minute with a negative counter", "partition", w.partition, "err", err)
		} else if err != nil {
			return err
		}
		b.Minutes = append(b.Minutes, r)
		if !m.ClosedAt.IsZero() {
			closedAt = append(closedAt, m.ClosedAt)
			m.ClosedAt = time.Time{} // first emission only
		}
	}
	for _, q := range out.Quarters {
		b.Quarters = append(b.Quarters, window.QuarterRow{Stream: q.Stream, Quarter: time.UnixMilli(q.Start).UTC(),
			Partition: w.partition, Version: version, AQHPersons: q.AQHPersons, Final: q.Final, Deleted: q.Deleted})
	}
	for _, d := range out.Delivery {
		b.Delivery = append(b.Delivery, window.DeliveryRow{Stream: d.Stream, Minute: time.UnixMilli(d.Minute).UTC(),
			Partition: w.partition, Version: version, Late: d.Late, Duplicates: d.Duplicates, TooLate: d.TooLate})
	}
	for _, c := range out.Clocks {
		b.Clocks = append(b.Clocks, window.ClockRow{Stream: c.Stream, Partition: w.partition, Version: version,
			Clock: c.Clock, ClosedTo: c.ClosedTo, FinalTo: c.FinalTo, Closed: c.Closed})
	}
	if d := w.st.SetsBuilt - w.setsBuilt; d > 0 {
		a.m.setsBuilt.Add(float64(d))
		w.setsBuilt = w.st.SetsBuilt
	}
	if d := w.st.Dropped["panic"] - w.dropped["panic"]; d > 0 {
		a.log.Error("a record hit a bug and was skipped", "partition", w.partition, "records", d, "last", w.st.LastPanic)
	}
	for k, v := range w.st.Dropped {
		if d := v - w.dropped[k]; d > 0 {
			a.m.dropped.WithLabelValues(k).Add(float64(d))
			w.dropped[k] = v
		}
	}
	if b.Rows() > 0 {
		start := time.Now()
		var shown bool
		b.Visible = func() {
			if shown { // a retried write
				return
			}
			shown = true
			for _, at := range closedAt {
				a.m.visible.Observe(time.Since(at).Seconds())
			}
		}
		if err := retry(ctx, a, func() error { return a.commit.write(ctx, &b) }); err != nil {
			return err
		}
		a.m.flush.Observe(time.Since(start).Seconds())
		a.m.rows.WithLabelValues("minute_stats").Add(float64(len(b.Minutes)))
		a.m.rows.WithLabelValues("quarter_stats").Add(float64(len(b.Quarters)))
		a.m.rows.WithLabelValues("listener_minutes").Add(float64(len(b.Listeners.Rows)))
		a.m.rows.WithLabelValues("delivery_stats").Add(float64(len(b.Delivery)))
		a.m.rows.WithLabelValues("stream_clocks").Add(float64(len(b.Clocks)))
		a.m.rows.WithLabelValues("events_raw").Add(float64(len(b.Raw)))
		a.m.rows.WithLabelValues("dead_letters").Add(float64(len(b.DeadLetters)))
	}
	// The buffers are reused, unless a flush much larger than usual (a backlog) grew them.
	w.raw, w.dead = reuse(w.raw), w.dead[:0]
	w.st.Recycle(out)
	if !checkpoint || w.st.Offset < 0 || w.st.Offset+1 == w.next {
		return nil
	}
	// Written as a stream of chunks (never whole in memory), into the slot the newest
	// checkpoint is not in.
	next, slot := w.st.Offset+1, 1-w.slot
	var encodeErr error
	if err := retry(ctx, a, func() error {
		return a.withStateIO(ctx, func() error {
			cw := a.sink.NewCheckpoint(ctx, a.cfg.Group, a.cfg.Kafka.Topic, w.partition, slot, next)
			if err := w.st.WriteCheckpoint(cw); err != nil {
				if cw.Failed() {
					return err // ClickHouse: retried
				}
				encodeErr = err // the state itself: retrying cannot help
				return nil
			}
			return cw.Commit()
		})
	}); err != nil {
		return err
	}
	if encodeErr != nil {
		return encodeErr
	}
	w.next, w.slot = next, slot
	a.m.checkpoints.Inc()
	// The checkpoint, not the committed offset, is where a new owner resumes; the commit keeps
	// Kafka's view of the group's lag right. It fails harmlessly once the generation is over.
	if err := w.gen.CommitOffsets(map[string]map[int]int64{a.cfg.Kafka.Topic: {int(w.partition): next}}); err != nil {
		a.log.Debug("cannot commit offset", "partition", w.partition, "err", err)
	}
	return nil
}

// reuse empties s for reuse, or lets it go when it is mostly unused capacity: a flush after a
// backlog (a restart, ClickHouse down) can hold millions of records, and keeping that
// capacity for the rest of the partition's life would be most of the aggregator's heap.
func reuse[T any](s []T) []T {
	if cap(s) > 1<<17 && cap(s) > 4*len(s) {
		return nil
	}
	clear(s) // the strings they hold
	return s[:0]
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
