// Command night-bench carries the peak of the night of 12 Aug 2024 at full size — over a
// million listeners connected for more than ten minutes of stream time — through the whole
// pipeline on this machine: simulated players → collector HTTP (acks=all) → Kafka → aggregator
// → ClickHouse engine, every process on the same cores. It prints events/s end to end, the
// real-time factor, each process's RSS and CPU, rows visible after a minute closes, Kafka and
// ClickHouse bytes per stream-hour, CPU profiles of the collector and aggregator taken under
// load, and the figures against the scenario's truth.
//
//	make bench-night                                  (1 collector, 1 aggregator)
//	make bench-night NIGHT_ARGS='-collectors 2 -aggregators 2'
//	go run ./bench/night -scale 0.05                  (a 65 000-listener rehearsal)
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/scenario"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/schema"
)

type options struct {
	scenario                string
	scale, speed            float64
	collectors, aggregators int
	partitions, parallel    int
	bin, cache              string
	broker, clickhouse      string
	profileAt               float64
	profileSecs             int
	keep                    bool
	peerRuns                int
}

func main() {
	var o options
	root, _ := os.Getwd()
	cache := envOr("EARSHOT_CACHE", filepath.Join(root, ".cache"))
	flag.StringVar(&o.scenario, "scenario", "scenarios/x-spaces-2024-08-12-peak.yaml", "scenario file")
	flag.Float64Var(&o.scale, "scale", 1, "scale of the scenario (1: full size)")
	flag.Float64Var(&o.speed, "speed", 0, "stream seconds per wall second to pace the players at (0: as fast as the pipeline takes them)")
	flag.IntVar(&o.collectors, "collectors", 1, "collector processes (the players send round robin)")
	flag.IntVar(&o.aggregators, "aggregators", 1, "aggregator processes in one consumer group")
	flag.IntVar(&o.partitions, "partitions", 12, "partitions of the run's topic")
	flag.IntVar(&o.parallel, "parallel", 32, "requests in flight from the players")
	flag.StringVar(&o.bin, "bin", filepath.Join(cache, "bin"), "directory with the collector and aggregator binaries")
	flag.StringVar(&o.cache, "cache", cache, "the servers' cache directory (Kafka data, pid files)")
	flag.StringVar(&o.broker, "broker", "127.0.0.1:9092", "Kafka broker")
	flag.StringVar(&o.clickhouse, "clickhouse", "127.0.0.1:8123", "ClickHouse HTTP address")
	flag.Float64Var(&o.profileAt, "profile-at", 0.4, "take the CPU profiles when this share of the stream was sent (0: none)")
	flag.IntVar(&o.profileSecs, "profile-seconds", 20, "length of the CPU profiles")
	flag.BoolVar(&o.keep, "keep", false, "keep the run's database and topic")
	flag.IntVar(&o.peerRuns, "peer", 0, "then run the SQL-at-query-time peer on the same events this many times (0: not at all)")
	flag.Parse()
	if o.profileAt < 0 || o.profileAt >= 1 {
		fmt.Fprintln(os.Stderr, "night-bench: -profile-at: want a share of the stream in [0, 1)")
		os.Exit(2)
	}
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintln(os.Stderr, "night-bench:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, o options) error {
	sc, err := scenario.Load(o.scenario, o.scale, 0)
	if err != nil {
		return err
	}
	id := time.Now().UnixNano()
	outDir := filepath.Join(o.cache, "bench-night", fmt.Sprint(id))
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	topic, db, group := fmt.Sprintf("earshot.night.%d", id), fmt.Sprintf("earshot_night_%d", id), fmt.Sprintf("earshot-night-%d", id)
	kcfg := eventlog.Config{Brokers: []string{o.broker}, Topic: topic, Partitions: o.partitions, ReplicationFactor: 1}

	// The truth first: it is computed from the plans, before anything is sent.
	t0 := time.Now()
	g := sim.NewGenerator(sc.Sim)
	oracle := sim.Oracle(g.Skeleton())
	truth := scenario.TruthOf(g.Skeleton(), oracle, o.scale)
	over1M := 0
	for _, m := range truth.Minutes {
		if m.PeakConcurrent >= 1_000_000 {
			over1M++
		}
	}
	streamMS := sc.Sim.Duration.Milliseconds()
	fmt.Printf("night bench: %s at scale %g — %d listeners, peak concurrent %d (truth), %d minutes with ≥ 1M connected\n",
		sc.Name, o.scale, sc.Sim.Listeners, truth.Totals.PeakConcurrent, over1M)
	fmt.Printf("  plans and truth in %s; %d collector(s), %d aggregator(s), %d partitions, %d requests in flight, %d cores\n",
		time.Since(t0).Round(time.Millisecond), o.collectors, o.aggregators, o.partitions, o.parallel, runtime.NumCPU())

	if err := eventlog.EnsureTopic(ctx, kcfg); err != nil {
		return err
	}
	chcfg := chconn.DefaultConfig()
	chcfg.Addr = o.clickhouse
	admin, err := chconn.Open(ctx, chcfg)
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return err
	}
	if !o.keep {
		defer admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		defer eventlog.DeleteTopic(context.Background(), kcfg)
	}
	chcfg.Database = db
	// The peer's queries are what it measures: at full size one takes minutes, past the
	// default 60-s read timeout.
	chcfg.ReadTimeout = time.Hour
	conn, err := chconn.Open(ctx, chcfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := schema.Apply(ctx, conn); err != nil {
		return err
	}

	// The processes: servers already up, collectors and aggregators started here.
	const simToken = "night-bench-simulator-token-0123456789"
	common := []string{"EARSHOT_KAFKA_BROKERS=" + o.broker, "EARSHOT_KAFKA_TOPIC=" + topic, "EARSHOT_PPROF=true", fmt.Sprintf("EARSHOT_KAFKA_PARTITIONS=%d", o.partitions),
		"EARSHOT_HASH_KEY=night-bench-hashing-key-not-for-production-0123", "EARSHOT_SIM_TOKEN=" + simToken}
	var procs, started []*proc
	defer func() {
		for _, p := range started {
			p.stop()
		}
	}()
	for _, s := range []struct{ name, pid string }{{"kafka", "kafka/kafka.pid"}, {"clickhouse", "clickhouse/chdb-http.pid"}} {
		p, err := server(s.name, filepath.Join(o.cache, s.pid))
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	var senders []sim.Sender
	var collectors, aggregators []*proc
	for i := range o.collectors {
		listen, adminAddr := fmt.Sprintf("127.0.0.1:%d", 18080+i), fmt.Sprintf("127.0.0.1:%d", 19464+i)
		p, err := start(fmt.Sprintf("collector-%d", i+1), filepath.Join(o.bin, "collector"), outDir, adminAddr,
			append(common, "EARSHOT_LISTEN="+listen, "EARSHOT_ADMIN_LISTEN="+adminAddr), "--config", "deploy/local/demo-collector.yaml")
		if err != nil {
			return err
		}
		started, collectors = append(started, p), append(collectors, p)
		c := client.New("http://"+listen, simToken)
		c.MaxRetries = 20 // a collector answering 503 under load is waited for, as players do
		senders = append(senders, c)
	}
	for i := range o.aggregators {
		listen := fmt.Sprintf("127.0.0.1:%d", 18181+i)
		p, err := start(fmt.Sprintf("aggregator-%d", i+1), filepath.Join(o.bin, "aggregator"), outDir, listen,
			append(common, "EARSHOT_LISTEN="+listen, "EARSHOT_GROUP="+group, "EARSHOT_CLICKHOUSE_ADDR="+o.clickhouse,
				"EARSHOT_CLICKHOUSE_DATABASE="+db))
		if err != nil {
			return err
		}
		started, aggregators = append(started, p), append(aggregators, p)
	}
	procs = append(procs, started...)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, p := range collectors {
		if err := waitReady(rctx, "http://"+p.admin+"/readyz", p); err != nil {
			return err
		}
	}
	for _, p := range aggregators {
		if err := waitReady(rctx, "http://"+p.admin+"/readyz", p); err != nil {
			return err
		}
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watching := watch(wctx, procs)
	cpu0 := map[*proc]float64{}
	for _, p := range procs {
		cpu0[p] = cpuSeconds(p.pid)
	}
	self := &proc{name: "players (this process)", pid: os.Getpid()}
	cpu0[self] = cpuSeconds(self.pid)

	// The players: the stream generated as it is sent; the profiles taken part way (only
	// saved then: pprof's analysis runs after the measurement).
	var profileErrs []error
	var profiling sync.WaitGroup
	var first, last atomic.Int64
	batches := func(yield func(sim.Batch) bool) {
		profileAt := int64(-1)
		for b := range g.All() {
			if first.Load() == 0 {
				first.Store(b.At)
				if o.profileAt > 0 {
					profileAt = b.At + int64(o.profileAt*float64(streamMS))
				}
			}
			last.Store(b.At)
			if profileAt > 0 && b.At >= profileAt {
				profileAt = -1
				profiling.Go(func() {
					profileErrs = saveProfiles(ctx, append(append([]*proc{}, collectors...), aggregators...), o.profileSecs, outDir)
				})
			}
			if !yield(b) {
				return
			}
		}
	}
	start := time.Now()
	progress := startProgress(ctx, aggregators, &last, &first, start)
	res, err := sim.SendBatches(ctx, senders, sc.Sim.StreamID, sc.Sim.Heartbeat, batches, o.parallel, o.speed)
	sent := time.Since(start)
	if err != nil {
		return fmt.Errorf("players: after %d requests: %w", res.Requests, err)
	}
	fctx, fcancel := context.WithTimeout(ctx, 30*time.Minute)
	defer fcancel()
	if err := report.WaitFinal(fctx, conn, sc.Sim.StreamID, o.partitions); err != nil {
		return fmt.Errorf("waiting for the stream's rows to be final: %w", err)
	}
	final := time.Since(start)
	maxLive := progress()
	profiling.Wait()
	stopWatch()
	watching.Wait()

	var scrapes []map[string]float64
	for _, p := range aggregators {
		m, err := scrape(p.admin)
		if err != nil {
			return err
		}
		scrapes = append(scrapes, m)
	}
	events := float64(g.Events())
	streamSec := float64(streamMS) / 1000
	fmt.Printf("\n  throughput (%d events, %d requests, %d client retries):\n", g.Events(), res.Requests, res.Retries)
	fmt.Printf("    players → collector (acked, acks=all):  %s, %.0f events/s, real-time factor %.2f\n",
		sent.Round(time.Second), events/sent.Seconds(), streamSec/sent.Seconds())
	fmt.Printf("    end to end (until every row is final):   %s, %.0f events/s, real-time factor %.2f (goal ≥ 1.0, 2.0 better)\n",
		final.Round(time.Second), events/final.Seconds(), streamSec/final.Seconds())
	n, q := histogramQuantiles(scrapes, "earshot_aggregator_window_visible_seconds", 0.5, 0.99)
	if n == 0 {
		return fmt.Errorf("no window was observed closing: see the aggregators' logs in %s", outDir)
	}
	fmt.Printf("    a partition's minute closed → its rows visible: p50 ≤ %.2f s, p99 ≤ %.2f s over %.0f partition-minutes (bucket bounds; target p99 ≤ 2 s)\n", q[0], q[1], n)
	fmt.Printf("    aggregator: %.0f events consumed, %.0f rows written, %.0f dropped\n",
		sum(scrapes, "earshot_aggregator_events_total"), sum(scrapes, "earshot_aggregator_rows_written_total"),
		sum(scrapes, "earshot_aggregator_dropped_events_total"))

	fmt.Printf("\n  processes (RSS peak / at the end; CPU seconds over the run, of %.0f wall seconds × %d cores):\n", final.Seconds(), runtime.NumCPU())
	for _, p := range append(procs, self) {
		if r := rss(p.pid, "VmRSS:"); r > 0 { // 0: the process has exited; keep its last sample
			p.lastRSS = r
		}
		// The kernel's high-water mark catches peaks between the 1-s samples — for the processes
		// of this run only: a server's covers its whole life, earlier runs included.
		if p.cmd != nil || p == self {
			p.maxRSS = max(p.maxRSS, rss(p.pid, "VmHWM:"))
		}
		fmt.Printf("    %-24s %8.0f MiB / %8.0f MiB   CPU %7.1f s\n", p.name, float64(p.maxRSS)/(1<<20), float64(p.lastRSS)/(1<<20), cpuSeconds(p.pid)-cpu0[p])
	}
	var aggRSS int64
	for _, p := range aggregators {
		aggRSS += p.maxRSS
	}
	peak := float64(max(1, truth.Totals.PeakConcurrent))
	fmt.Printf("    aggregator state per connected listener at the peak: %.0f bytes of live heap (largest heap after a GC), %.0f bytes of RSS (target ≤ 512)\n",
		maxLive/peak, float64(aggRSS)/peak)

	// A measurement that fails is reported, and the run goes on to the figures: they are what a
	// 15-minute run must not lose.
	cpBytes, cpParts, cpErr := checkpointBytes(ctx, conn)
	switch {
	case cpErr != nil:
		fmt.Printf("    checkpoints: cannot measure: %v\n", cpErr)
	case cpParts > 0:
		fmt.Printf("    checkpoints: %.0f written; the last round %.1f MiB over %d partitions (%.0f bytes per listener), every checkpoint_interval\n",
			sum(scrapes, "earshot_aggregator_checkpoints_total"), float64(cpBytes)/(1<<20), cpParts, float64(cpBytes)/peak)
	default:
		fmt.Printf("    checkpoints: none (the run was shorter than checkpoint_interval)\n")
	}

	hours := streamSec / 3600
	kb := logBytes(filepath.Join(envOr("EARSHOT_KAFKA_DIR", filepath.Join(o.cache, "kafka")), "data", topic+"-*"))
	if kb == 0 {
		return fmt.Errorf("no segment of topic %s found under the broker's data directory (EARSHOT_KAFKA_DIR?)", topic)
	}
	tb, err := tableBytes(ctx, conn, db)
	if err != nil {
		return err
	}
	var chTotal uint64
	var parts []string
	for t, n := range tb {
		chTotal += n
		parts = append(parts, fmt.Sprintf("%s %.1f MiB", t, float64(n)/(1<<20)))
	}
	fmt.Printf("\n  storage per stream-hour at this audience:\n")
	fmt.Printf("    Kafka topic (.log segments): %8.1f GiB/h (%.1f bytes/event)\n", float64(kb)/hours/(1<<30), float64(kb)/events)
	fmt.Printf("    ClickHouse tables:           %8.1f GiB/h (%.1f bytes/event): %s\n", float64(chTotal)/hours/(1<<30), float64(chTotal)/events, strings.Join(parts, ", "))

	r, err := result.Load(ctx, conn, sc.Sim.StreamID, time.Time{}, time.Time{}, result.Tolerance)
	if err != nil {
		return err
	}
	fmt.Printf("\n  figures against the scenario's truth (computed from the plans, not the pipeline):\n")
	misses := compare(os.Stdout, r, truth)
	for _, err := range profileErrs {
		fmt.Printf("\n  profile: %v\n", err)
	}
	for _, p := range append(append([]*proc{}, collectors...), aggregators...) {
		if top, err := profileTop(ctx, p, outDir, "cpu"); err == nil {
			fmt.Printf("\n  CPU profile of %s (%d s, from %.0f %% of the stream on):\n%s\n", p.name, o.profileSecs, 100*o.profileAt, indent(top))
		}
	}
	for _, p := range aggregators {
		if top, err := profileTop(ctx, p, outDir, "heap"); err == nil {
			fmt.Printf("\n  live heap of %s (after its CPU profile):\n%s\n", p.name, indent(top))
		}
	}
	fmt.Printf("  logs and profiles: %s\n", outDir)
	if misses > 0 {
		return fmt.Errorf("%d figures differ from the truth", misses)
	}
	if cpErr != nil {
		return cpErr
	}
	if o.peerRuns > 0 {
		// The players and processes are done: the peer has the machine to itself.
		for _, p := range started {
			p.stop()
		}
		var prefixes []int
		for _, f := range []float64{0.25, 0.5, 1} {
			prefixes = append(prefixes, max(1, int(f*sc.Sim.Duration.Minutes())))
		}
		pr, err := runPeer(ctx, conn, sc.Sim, oracle, outDir, o.peerRuns, prefixes)
		if err != nil {
			return err
		}
		printPeer(pr, res.Accepted, final, q[1])
	}
	return nil
}

// saveProfiles takes CPU profiles of the processes at once, saved under dir.
func saveProfiles(ctx context.Context, ps []*proc, secs int, dir string) []error {
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { errs[i] = saveProfile(ctx, p, secs, dir) })
	}
	wg.Wait()
	return slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// startProgress prints a line every 30 s: stream time sent, the rate, the aggregators' lag. It
// also samples the aggregators' live heap every 5 s (go_memstats_next_gc_bytes ÷ 2: the heap
// live after the last GC, with GOGC=100) and keeps the largest total. The returned function
// stops it and returns that.
func startProgress(ctx context.Context, aggs []*proc, last, first *atomic.Int64, start time.Time) func() float64 {
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var maxLive float64
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
			var scrapes []map[string]float64
			for _, p := range aggs {
				if m, err := scrape(p.admin); err == nil {
					scrapes = append(scrapes, m)
				}
			}
			maxLive = max(maxLive, sum(scrapes, "go_memstats_next_gc_bytes")/2)
			if i%6 != 0 {
				continue
			}
			streamed := float64(last.Load()-first.Load()) / 1000
			el := time.Since(start).Seconds()
			slog.Info("progress", "stream_s", int(streamed), "wall_s", int(el), "rtf", fmt.Sprintf("%.2f", streamed/el),
				"consumed", int(sum(scrapes, "earshot_aggregator_events_total")), "lag", int(sum(scrapes, "earshot_aggregator_consumer_lag")))
		}
	}()
	return func() float64 { cancel(); <-done; return maxLive }
}
