package aggregator_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/aggregator"
	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/schema"
)

const simToken = "integration-simulator-token"

// env is one isolated pipeline: its own topic, consumer group and ClickHouse database.
type env struct {
	t     *testing.T
	kafka eventlog.Config
	ch    chconn.Config
	conn  driver.Conn
	group string
	agg   *aggregator.Aggregator // the last one started
}

func newEnv(t *testing.T, partitions int) *env {
	t.Helper()
	return newEnvOn(t, partitions, testenv.ClickHouseConfig(t))
}

// newEnvOn is newEnv with ClickHouse at ch (its schema is applied there).
func newEnvOn(t *testing.T, partitions int, ch chconn.Config) *env {
	t.Helper()
	e := &env{t: t, ch: ch, group: testenv.Name(t, "group")}
	e.kafka = eventlog.DefaultConfig()
	e.kafka.Brokers = []string{testenv.Kafka(t)}
	e.kafka.Topic = testenv.Name(t, "events")
	e.kafka.Partitions = partitions
	return e.setUp()
}

// setUp creates the topic and the schema.
func (e *env) setUp() *env {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := eventlog.EnsureTopic(ctx, e.kafka); err != nil {
		t.Fatal(err)
	}
	conn, err := chconn.Open(ctx, e.ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e.conn = conn
	if _, err := schema.Apply(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return e
}

// send runs the stream through an in-process collector into the topic.
func (e *env) send(st *sim.Stream) {
	e.t.Helper()
	if err := e.trySend(st); err != nil {
		e.t.Fatal(err)
	}
}

// trySend is send, with the collector's config changed by mutate (when given).
func (e *env) trySend(st *sim.Stream, mutate ...func(*collector.Config)) error {
	url, stop, err := e.collector(mutate...)
	if err != nil {
		return err
	}
	defer stop()
	res, err := sim.Send(context.Background(), client.New(url, simToken), st, 8)
	if err != nil {
		return err
	}
	if res.Rejected != 0 {
		return fmt.Errorf("collector rejected %d events", res.Rejected)
	}
	return nil
}

// collector starts an in-process collector writing to the env's topic, with a trusted_time
// and platform token (simToken), its config changed by mutate; stop shuts it down.
func (e *env) collector(mutate ...func(*collector.Config)) (url string, stop func(), err error) {
	cfg := collector.DefaultConfig()
	cfg.Kafka = e.kafka
	cfg.Hash.Key = "integration-hashing-key-0123456789abcdef"
	cfg.Tokens = []collector.Token{{Name: "sim", Token: simToken, TrustedTime: true, Platform: true}}
	cfg.Limits.IPRequestsPerSecond, cfg.Limits.IPBurst = 1e6, 1e6
	for _, m := range mutate {
		m(&cfg)
	}
	p := collector.NewProducer(cfg.Kafka, cfg.Limits.InflightEvents, cfg.Limits.KafkaTimeout)
	srv, err := collector.NewServer(cfg, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		p.Close()
		return "", nil, err
	}
	ts := httptest.NewServer(srv.Handler())
	return ts.URL, func() { ts.Close(); p.Close() }, nil
}

func (e *env) config() aggregator.Config {
	cfg := aggregator.DefaultConfig()
	cfg.Kafka, cfg.ClickHouse, cfg.Group = e.kafka, e.ch, e.group
	cfg.FlushInterval = 300 * time.Millisecond
	cfg.CheckpointInterval = time.Second
	cfg.Listen = "127.0.0.1:0"
	return cfg
}

// runAggregator starts an in-process aggregator; stop it with the returned function.
func (e *env) runAggregator() (stop func()) {
	e.t.Helper()
	a, err := aggregator.New(e.config(), e.conn, slog.New(slog.NewTextHandler(testLog{e.t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		e.t.Fatal(err)
	}
	e.agg = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Error(err)
		}
	}
}

func (e *env) waitDone(st *sim.Stream) *report.Stream {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := report.WaitFinal(ctx, e.conn, st.Scenario.StreamID, e.kafka.Partitions); err != nil {
		e.t.Fatal(err)
	}
	r, err := report.Load(ctx, e.conn, st.Scenario.StreamID, time.Time{}, time.Time{})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func scenario(listeners int, seed uint64) *sim.Stream {
	sc := sim.DemoScenario(listeners)
	sc.StreamID = fmt.Sprintf("it-stream-%d", seed)
	sc.AudioDelay, sc.Duration, sc.Seed = 8*time.Minute, 32*time.Minute, seed
	return sim.Generate(sc)
}

// lateScenario is scenario delivered badly: 30 % of the batches up to 5 minutes late, and 10 %
// sent again up to 10 minutes later (retries of lost answers).
func lateScenario(listeners int, seed uint64) *sim.Stream {
	sc := sim.DemoScenario(listeners)
	sc.StreamID = fmt.Sprintf("it-late-stream-%d", seed)
	sc.AudioDelay, sc.Duration, sc.Seed = 8*time.Minute, 32*time.Minute, seed
	sc.LateRate, sc.LateBy = 0.3, 5*time.Minute
	sc.DuplicateRate, sc.DuplicateBy = 0.1, 10*time.Minute
	return sim.Generate(sc)
}

// checkAgainstTruth compares a report with the oracle: exact metrics exactly, distinct counts
// within their intervals.
func checkAgainstTruth(t *testing.T, r *report.Stream, tr *sim.Truth) {
	t.Helper()
	t.Logf("late %d, duplicates %d, too late %d", r.Late, r.Duplicates, r.TooLate)
	sim.Compare(t, tr, func(start int64) (sim.MinuteFigures, bool) {
		m, ok := r.At(time.UnixMilli(start))
		if !ok {
			return sim.MinuteFigures{}, false
		}
		return sim.MinuteFigures{Connected: m.Connected.Value, ConnectedLo: m.Connected.Lo, ConnectedHi: m.Connected.Hi,
			Hearing: m.Hearing.Value, HearingLo: m.Hearing.Lo, HearingHi: m.Hearing.Hi,
			Joins: m.Joins, Leaves: m.Leaves, Timeouts: m.Timeouts, Plays: m.Plays, Errors: m.Errors, Failures: m.StartFailures,
			PlayedMS: m.PlayedMS, MutedMS: m.MutedMS, PeakConcurrent: m.PeakConcurrent, PeakHearing: m.PeakHearing,
			DisplayedMax: m.DisplayedMax, DisplayedLast: m.DisplayedLast, HasDisplayed: m.HasDisplayed}, true
	})
	for _, x := range []struct {
		name   string
		lo, hi float64
		want   int
	}{
		{"cume connected", r.CumeConnected.Lo, r.CumeConnected.Hi, tr.CumeConnected},
		{"cume hearing", r.CumeHearing.Lo, r.CumeHearing.Hi, tr.CumeHearing},
		{"cume qualified", r.CumeQualified.Lo, r.CumeQualified.Hi, tr.CumeQualified},
	} {
		if float64(x.want) < x.lo || float64(x.want) > x.hi {
			t.Errorf("%s [%.0f, %.0f] does not cover the truth %d", x.name, x.lo, x.hi, x.want)
		}
	}
	if r.PeakConcurrent != uint64(tr.PeakConcurrent) || r.PeakHearing != uint64(tr.PeakHearing) {
		t.Errorf("peaks %d/%d, truth %d/%d", r.PeakConcurrent, r.PeakHearing, tr.PeakConcurrent, tr.PeakHearing)
	}
	if r.PlayedMS != uint64(tr.PlayedMS) || r.Joins != uint64(tr.Joins) || r.StartFailures != uint64(tr.Failures) {
		t.Errorf("played %d joins %d failures %d, truth %d %d %d", r.PlayedMS, r.Joins, r.StartFailures, tr.PlayedMS, tr.Joins, tr.Failures)
	}
	if got, want := r.AQHPersons, tr.AQHPersons(); got != want {
		t.Errorf("AQH persons %.2f, truth %.2f", got, want)
	}
}

// TestEndToEndMatchesTruth: a generated stream with known answers goes collector → Kafka →
// aggregator → ClickHouse; every figure read back matches the oracle.
func TestEndToEndMatchesTruth(t *testing.T) {
	e := newEnv(t, 4)
	st := scenario(600, 1)
	stop := e.runAggregator()
	defer stop()
	e.send(st)
	r := e.waitDone(st)
	checkAgainstTruth(t, r, sim.Oracle(st))
	testCookbook(t, e.conn, st, r)
	testGrafana(t, e.conn, st, r)
	testResult(t, e.conn, st, r)
	testCLI(t, e, st, r)
}

// TestRebalanceHandsStateOver starts a second aggregator in the same group halfway: the
// partitions move between instances through checkpoints, and the figures still match, with
// late batches and copies in the stream.
func TestRebalanceHandsStateOver(t *testing.T) {
	e := newEnv(t, 4)
	st := lateScenario(500, 2)
	e.send(st)
	stopA := e.runAggregator()
	time.Sleep(1500 * time.Millisecond)
	stopB := e.runAggregator()
	defer stopB()
	time.Sleep(1500 * time.Millisecond)
	stopA() // a second rebalance: everything back to B
	r := e.waitDone(st)
	checkAgainstTruth(t, r, sim.Oracle(st))
}

// TestCrashesChangeNothing kills the aggregator process with SIGKILL at random points and
// restarts it; the final figures equal the truth (and so an uninterrupted run), with late
// batches and copies in the stream.
func TestCrashesChangeNothing(t *testing.T) {
	e := newEnv(t, 4)
	st := lateScenario(6000, 3)
	e.send(st)
	bin := filepath.Join(t.TempDir(), "aggregator")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(testenv.RepoRoot(), "cmd", "aggregator")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := e.config()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(),
			"EARSHOT_KAFKA_BROKERS="+cfg.Kafka.Brokers[0], "EARSHOT_KAFKA_TOPIC="+cfg.Kafka.Topic,
			fmt.Sprintf("EARSHOT_KAFKA_PARTITIONS=%d", cfg.Kafka.Partitions),
			"EARSHOT_CLICKHOUSE_ADDR="+cfg.ClickHouse.Addr, "EARSHOT_CLICKHOUSE_DATABASE="+cfg.ClickHouse.Database,
			"EARSHOT_GROUP="+cfg.Group, "EARSHOT_FLUSH_INTERVAL=300ms", "EARSHOT_CHECKPOINT_INTERVAL=700ms",
			"EARSHOT_LISTEN=127.0.0.1:0")
		logf, _ := os.Create(filepath.Join(t.TempDir(), "aggregator.log"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	rnd := rand.New(rand.NewPCG(42, 42))
	written := func() uint64 {
		var n uint64
		e.conn.QueryRow(context.Background(), "SELECT count() FROM events_raw FINAL").Scan(&n)
		return n
	}
	var progress []uint64
	restored := false
	// Crash soon after the first write, then after a checkpoint or two, then in between.
	base := []int{100, 900, 400}
	for i := range 3 {
		before := written()
		cmd := start()
		// Kill it while it works: after it wrote something new (a restarted member may first
		// wait for the group to drop the killed one), at a random moment.
		for deadline := time.Now().Add(45 * time.Second); written() == before && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		d := time.Duration(base[i]+rnd.IntN(200)) * time.Millisecond
		time.Sleep(d)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		var checkpoints uint64
		e.conn.QueryRow(context.Background(), "SELECT count() FROM checkpoints").Scan(&checkpoints)
		progress = append(progress, written())
		restored = restored || (i > 0 && checkpoints > 0)
		t.Logf("crash %d, %s after its first write: %d checkpoints, %d records written so far", i+1, d, checkpoints, progress[i])
	}
	cmd := start()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	r := e.waitDone(st)
	checkAgainstTruth(t, r, sim.Oracle(st))
	total := written()
	during := 0
	for _, n := range progress {
		if n > 0 && n < total {
			during++
		}
	}
	if during < 2 || !restored {
		t.Fatalf("crashes at %v of %d records (restored from a checkpoint: %v): the crashes did not test the run", progress, total, restored)
	}
}

// TestClickHouseOutageLosesNothing stops ClickHouse while the aggregator works: it retries,
// stops consuming, commits nothing, and after the restart catches up to the exact answers.
func TestClickHouseOutageLosesNothing(t *testing.T) {
	engine := testenv.ScratchClickHouse(t, 18123)
	ch := chconn.DefaultConfig()
	ch.Addr = engine.Addr()
	e := newEnvOn(t, 2, ch)
	st := scenario(800, 4)
	stop := e.runAggregator()
	defer stop()
	// ClickHouse goes away before the stream arrives and comes back while it is still
	// arriving: flushes fail and are retried, nothing is committed, consumption waits.
	engine.Stop()
	sent := make(chan error, 1)
	go func() { sent <- e.trySend(st) }()
	time.Sleep(3 * time.Second)
	engine.Start()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	r := e.waitDone(st)
	mfs, _ := e.agg.Registry().Gather()
	failed := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "earshot_aggregator_write_errors_total" {
			failed = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if failed == 0 {
		t.Fatal("no write failed: ClickHouse was not down while the aggregator worked")
	}
	t.Logf("%.0f failed writes retried", failed)
	checkAgainstTruth(t, r, sim.Oracle(st))
}

// testLog sends the aggregator's warnings to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
