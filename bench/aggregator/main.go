// Command aggregator-bench measures the aggregator side by side with the peers a team would
// reach for, on the same event stream in the same run:
//
//  1. earshot's hot path (decode → session rules → sketches), one core;
//  2. an exact Go map per (stream, minute) — the baseline for accuracy and memory;
//  3. Redis HyperLogLog (Debian's redis-server): pipelined PFADD per stream-minute key, then
//     PFCOUNT per minute and PFMERGE for the whole stream;
//  4. earshot end to end from the real Kafka broker into the ClickHouse engine: events/s and
//     the delay from a window's close to its rows being visible.
//
// It prints throughput, memory and error against the exact answer for each, and the ratios.
//
//	go run ./bench/aggregator   (make bench runs it with the local servers up)
package main

import (
	"bufio"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/aggregator"
	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/session"
	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
	"github.com/earshot/earshot/schema"
)

func main() {
	listeners := flag.Int("listeners", 200_000, "listeners in the stream")
	minutes := flag.Int("minutes", 5, "minutes of heartbeats (one per listener every 10 s)")
	broker := flag.String("broker", "127.0.0.1:9092", "Kafka broker ('' skips the end-to-end run)")
	chAddr := flag.String("clickhouse", "127.0.0.1:8123", "ClickHouse HTTP address")
	e2eListeners := flag.Int("e2e-listeners", 20_000, "listeners in the end-to-end run")
	redisPort := flag.Int("redis-port", 16399, "port for the redis-server this harness starts")
	runs := flag.Int("runs", 5, "runs of each in-process contender; medians are printed")
	flag.Parse()
	if err := run(*listeners, *minutes, *broker, *chAddr, *e2eListeners, *redisPort, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "aggregator-bench:", err)
		os.Exit(1)
	}
}

var t0 = time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC).UnixMilli()

// stream builds the records: every listener joins in the first 10 s, then beats every 10 s.
func stream(listeners, minutes int) [][]byte {
	beats := minutes * 6
	out := make([][]byte, 0, listeners*(beats+1))
	// Listener keys are HMAC outputs in production: uniform. splitmix64 stands in for them.
	key := func(i int) uint64 {
		z := uint64(i+1) * 0x9E3779B97F4A7C15
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		return z ^ z>>31
	}
	for b := 0; b <= beats; b++ {
		for i := range listeners {
			at := t0 + int64(i%10_000) + int64(b)*10_000
			r := event.Record{Type: event.TypeHeartbeat, Flags: event.FlagTrustedTime, Listener: key(i),
				Fingerprint: uint64(i)<<16 | uint64(b), EventTime: at, ReceivedAt: at, PlayedMS: 10_000, StreamID: []byte("bench-space")}
			if b == 0 {
				r.Type, r.PlayedMS = event.TypeJoin, 0
			}
			out = append(out, event.AppendRecord(nil, &r))
		}
	}
	return out
}

type result struct {
	name     string
	events   int
	elapsed  time.Duration
	memBytes float64
	maxErr   float64 // largest relative error of a per-minute distinct count
	cumeErr  float64
}

func (r result) rate() float64 { return float64(r.events) / r.elapsed.Seconds() }

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func run(listeners, minutes int, broker, chAddr string, e2eListeners, redisPort, runs int) error {
	recs := stream(listeners, minutes)
	late := lateArrivals(recs, 0.3, 120_000)
	fmt.Printf("aggregator bench: %d listeners, %d min of 10-s heartbeats = %d events, one stream, one core; medians of %d runs\n\n",
		listeners, minutes, len(recs), runs)

	var exact exactCounts
	var ex, es, esLate, rd []result
	for range runs {
		var e result
		exact, e = runExact(recs)
		ex = append(ex, e)
		es = append(es, runEarshot(recs, exact, "earshot (decode→session→sketch)"))
		esLate = append(esLate, runEarshot(late, exact, "earshot, 30 % up to 2 min late"))
		if r, err := runRedis(recs, exact, redisPort); err != nil {
			fmt.Printf("  redis: skipped (%v)\n", err)
		} else {
			rd = append(rd, r)
		}
	}
	earshot, earshotLate, exactRes, redis := median(es), median(esLate), median(ex), median(rd)
	fmt.Printf("  %-34s %12s %14s %12s %12s\n", "", "events/s", "memory", "max err/min", "cume err")
	for _, r := range []result{earshot, earshotLate, exactRes, redis} {
		if r.name == "" {
			continue
		}
		fmt.Printf("  %-34s %12.0f %11.1f MB %11.3f%% %11.3f%%\n", r.name, r.rate(), r.memBytes/1e6, 100*r.maxErr, 100*r.cumeErr)
	}
	fmt.Printf("\n  earshot per connected listener: %.1f bytes of state in total (table, logs, bits, open minutes; %d min into the stream)\n",
		earshot.memBytes/float64(listeners), minutes)
	fmt.Printf("  ratio earshot/exact map ingest: %.2f\n", earshot.rate()/exactRes.rate())
	if redis.name != "" {
		fmt.Printf("  ratio earshot/Redis ingest:     %.2f (target ≥ 5)\n", earshot.rate()/redis.rate())
	}
	if broker != "" {
		return runEndToEnd(broker, chAddr, e2eListeners)
	}
	return nil
}

// median returns the run with the median rate.
func median(rs []result) result {
	if len(rs) == 0 {
		return result{}
	}
	slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(a.rate(), b.rate()) })
	return rs[len(rs)/2]
}

// lateArrivals is recs in the order they arrive when a share of them arrives up to maxLate ms
// late (received then).
func lateArrivals(recs [][]byte, share float64, maxLate int64) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	type arr struct {
		at  int64
		rec []byte
	}
	out := make([]arr, len(recs))
	var e event.Record
	for i, data := range recs {
		if err := event.DecodeRecord(data, &e); err != nil {
			panic(err)
		}
		at := e.EventTime
		if r.Float64() < share {
			at += r.Int64N(maxLate)
		}
		e.ReceivedAt = at
		out[i] = arr{at, event.AppendRecord(nil, &e)}
	}
	slices.SortStableFunc(out, func(a, b arr) int { return cmp.Compare(a.at, b.at) })
	res := make([][]byte, len(out))
	for i := range out {
		res[i] = out[i].rec
	}
	return res
}

// exactCounts is the truth: distinct listeners with an event in each minute, and overall.
type exactCounts struct {
	perMinute map[int64]int
	cume      int
}

func runExact(recs [][]byte) (exactCounts, result) {
	before := heap()
	start := time.Now()
	sets := map[string]map[int64]map[uint64]struct{}{}
	all := map[uint64]struct{}{}
	var r event.Record
	for _, data := range recs {
		if err := event.DecodeRecord(data, &r); err != nil {
			panic(err)
		}
		byMinute := sets[string(r.StreamID)]
		if byMinute == nil {
			byMinute = map[int64]map[uint64]struct{}{}
			sets[string(r.StreamID)] = byMinute
		}
		m := window.MinuteOf(r.EventTime)
		set := byMinute[m]
		if set == nil {
			set = map[uint64]struct{}{}
			byMinute[m] = set
		}
		set[r.Listener] = struct{}{}
		all[r.Listener] = struct{}{}
	}
	el := time.Since(start)
	mem := float64(heap() - before)
	ec := exactCounts{perMinute: map[int64]int{}, cume: len(all)}
	for _, byMinute := range sets {
		for m, set := range byMinute {
			ec.perMinute[m] = len(set)
		}
	}
	return ec, result{name: "exact Go maps", events: len(recs), elapsed: el, memBytes: mem}
}

func runEarshot(recs [][]byte, exact exactCounts, name string) result {
	before := heap()
	start := time.Now()
	p := session.New(session.DefaultConfig(), 0)
	var out session.Output
	take := func() {
		o := p.TakeOutput() // the worker hands this to the sink every flush
		out.Minutes = append(out.Minutes, o.Minutes...)
		p.Recycle(o)
	}
	// As the worker does: decode into batches, apply each batch at once.
	const batch = 256
	buf := make([]event.Record, batch)
	offs := make([]int64, batch)
	var r event.Record
	for i := 0; i < len(recs); i += batch {
		n := min(batch, len(recs)-i)
		for k := range n {
			if err := event.DecodeRecord(recs[i+k], &buf[k]); err != nil {
				panic(err)
			}
			offs[k] = int64(i + k)
		}
		p.AddBatch(buf[:n], offs[:n])
		r = buf[n-1]
		if i%(400*batch) == 0 {
			take()
		}
	}
	el := time.Since(start)
	take()
	mem := float64(heap() - before) // state while the stream is live: all listeners connected
	end := event.Record{Type: event.TypeEnd, Flags: event.FlagTrustedTime, StreamID: []byte("bench-space"), EventTime: r.EventTime, ReceivedAt: r.ReceivedAt}
	p.Add(&end, int64(len(recs)))
	take()
	res := result{name: name, events: len(recs), elapsed: el, memBytes: mem}
	var conns []*window.Minute
	for _, m := range out.Minutes {
		// earshot's connected includes sessions' silent time; compare minutes that had events.
		if want, ok := exact.perMinute[m.Start]; ok && want > 0 {
			got := m.Connected.Count().Value
			res.maxErr = math.Max(res.maxErr, math.Abs(got-float64(want))/float64(want))
		}
		conns = append(conns, m)
	}
	var cume window.Minute
	for _, m := range conns {
		cume.Connected.Merge(&m.Connected)
	}
	res.cumeErr = math.Abs(cume.Connected.Count().Value-float64(exact.cume)) / float64(exact.cume)
	return res
}

// runRedis starts redis-server and feeds it PFADD per (stream, minute) key, pipelined.
func runRedis(recs [][]byte, exact exactCounts, port int) (result, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var conn net.Conn
	for range 50 {
		if conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	rc := &resp{w: bufio.NewWriterSize(conn, 1<<20), r: bufio.NewReaderSize(conn, 1<<16)}
	usedBefore, err := rc.usedMemory()
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	var r event.Record
	const pipeline = 10_000
	pending := 0
	var member [8]byte
	for _, data := range recs {
		if err := event.DecodeRecord(data, &r); err != nil {
			return result{}, err
		}
		key := "hll:" + string(r.StreamID) + ":" + strconv.FormatInt(window.MinuteOf(r.EventTime)/60_000, 10)
		for i := range 8 {
			member[i] = byte(r.Listener >> (8 * i))
		}
		rc.command("PFADD", key, string(member[:]))
		pending++
		if pending == pipeline {
			if err := rc.drain(pending); err != nil {
				return result{}, err
			}
			pending = 0
		}
	}
	if err := rc.drain(pending); err != nil {
		return result{}, err
	}
	el := time.Since(start)
	usedAfter, err := rc.usedMemory()
	if err != nil {
		return result{}, err
	}
	res := result{name: "Redis HLL (pipelined PFADD)", events: len(recs), elapsed: el, memBytes: float64(usedAfter - usedBefore)}
	var keys []string
	for m, want := range exact.perMinute {
		key := "hll:bench-space:" + strconv.FormatInt(m/60_000, 10)
		keys = append(keys, key)
		rc.command("PFCOUNT", key)
		got, err := rc.integer()
		if err != nil {
			return result{}, err
		}
		res.maxErr = math.Max(res.maxErr, math.Abs(float64(got-int64(want)))/float64(want))
	}
	rc.command(append([]string{"PFMERGE", "hll:bench-space:all"}, keys...)...)
	if _, err := rc.reply(); err != nil {
		return result{}, err
	}
	rc.command("PFCOUNT", "hll:bench-space:all")
	got, err := rc.integer()
	if err != nil {
		return result{}, err
	}
	res.cumeErr = math.Abs(float64(got-int64(exact.cume))) / float64(exact.cume)
	return res, nil
}

// resp is the smallest RESP2 client the harness needs.
type resp struct {
	w *bufio.Writer
	r *bufio.Reader
}

func (c *resp) command(args ...string) {
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n%s\r\n", len(a), a)
	}
}

func (c *resp) reply() (string, error) {
	if err := c.w.Flush(); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %q", line)
}

func (c *resp) integer() (int64, error) {
	s, err := c.reply()
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

func (c *resp) drain(n int) error {
	for range n {
		if _, err := c.reply(); err != nil {
			return err
		}
	}
	return nil
}

func (c *resp) usedMemory() (int64, error) {
	c.command("INFO", "memory")
	info, err := c.reply()
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no used_memory in INFO")
}

// runEndToEnd produces a stream to a fresh topic, then lets the aggregator consume it from
// the real broker into the ClickHouse engine.
func runEndToEnd(broker, chAddr string, listeners int) error {
	ctx := context.Background()
	run := time.Now().UnixNano()
	kcfg := eventlog.Config{Brokers: []string{broker}, Topic: fmt.Sprintf("earshot.bench.agg.%d", run), Partitions: 4, ReplicationFactor: 1}
	if err := eventlog.EnsureTopic(ctx, kcfg); err != nil {
		return err
	}
	recs := stream(listeners, 5)
	w := &kafkago.Writer{Addr: kafkago.TCP(broker), Topic: kcfg.Topic, Balancer: collector.ListenerBalancer{},
		RequiredAcks: kafkago.RequireAll, BatchSize: 5000, BatchBytes: 4 << 20, BatchTimeout: 5 * time.Millisecond}
	msgs := make([]kafkago.Message, len(recs))
	for i, v := range recs {
		msgs[i] = kafkago.Message{Key: v[4:12], Value: v}
	}
	for i := 0; i < len(msgs); i += 50_000 {
		if err := w.WriteMessages(ctx, msgs[i:min(i+50_000, len(msgs))]...); err != nil {
			return err
		}
	}
	w.Close()
	// The stream's end, as an end event of its trusted token would write it: every row final.
	p := collector.NewProducer(kcfg, 1, 30*time.Second)
	var last event.Record
	if err := event.DecodeRecord(recs[len(recs)-1], &last); err != nil {
		return err
	}
	if err := p.WriteEveryPartition(ctx, collector.EndRecord("bench-space", "bench-end", last.EventTime)); err != nil {
		return err
	}
	p.Close()

	chcfg := chconn.DefaultConfig()
	chcfg.Addr = chAddr
	admin, err := chconn.Open(ctx, chcfg)
	if err != nil {
		return err
	}
	db := fmt.Sprintf("earshot_bench_%d", run)
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return err
	}
	defer admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
	chcfg.Database = db
	conn, err := chconn.Open(ctx, chcfg)
	if err != nil {
		return err
	}
	if _, err := schema.Apply(ctx, conn); err != nil {
		return err
	}
	cfg := aggregator.DefaultConfig()
	cfg.Kafka, cfg.ClickHouse, cfg.Group = kcfg, chcfg, fmt.Sprintf("earshot-bench-%d", run)
	a, err := aggregator.New(cfg, conn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- a.Run(actx) }()
	// Done when every event is folded in and the stream's rows are final and visible.
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer wcancel()
	err = report.WaitFinal(wctx, conn, "bench-space", kcfg.Partitions)
	el := time.Since(start)
	cancel()
	<-done
	if err != nil {
		return err
	}
	consumed := counter(a, "earshot_aggregator_events_total")
	p50, p99 := quantiles(a, "earshot_aggregator_window_visible_seconds")
	fmt.Printf("\n  end to end, Kafka → aggregator → ClickHouse engine (%d listeners, %d events, 4 partitions):\n", listeners, len(recs))
	fmt.Printf("    %d events in %s = %.0f events/s, until the stream's rows are final\n",
		int(consumed), el.Round(time.Millisecond), consumed/el.Seconds())
	fmt.Printf("    window close → rows visible: p50 %.2f s, p99 %.2f s (target ≤ 2 s; flush interval %s)\n", p50, p99, cfg.FlushInterval)
	return nil
}

func gather(a *aggregator.Aggregator, name string) []*dto.Metric {
	mfs, _ := a.Registry().Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func counter(a *aggregator.Aggregator, name string) float64 {
	var sum float64
	for _, m := range gather(a, name) {
		sum += m.GetCounter().GetValue()
	}
	return sum
}

// quantiles estimates p50 and p99 from a histogram's buckets (upper bounds).
func quantiles(a *aggregator.Aggregator, name string) (p50, p99 float64) {
	ms := gather(a, name)
	if len(ms) == 0 {
		return 0, 0
	}
	h := ms[0].GetHistogram()
	total := float64(h.GetSampleCount())
	q := func(p float64) float64 {
		for _, b := range h.GetBucket() {
			if float64(b.GetCumulativeCount()) >= p*total {
				return b.GetUpperBound()
			}
		}
		return math.Inf(1)
	}
	return q(0.5), q(0.99)
}
