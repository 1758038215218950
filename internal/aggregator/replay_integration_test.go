package aggregator_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/replay"
	scenariofile "github.com/earshot/earshot/internal/scenario"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/testenv"
)

// TestReplayInterruptedEqualsUninterrupted: the same recorded log (the smoke scenario's events
// as a collector received them, copies included, gzip) is replayed through a real collector
// into Kafka, the aggregator and ClickHouse twice — under two stream ids — once straight
// through and once interrupted at a random point and resumed from its state file. Both streams'
// figures equal the truth of the plans and each other, minute by minute.
func TestReplayInterruptedEqualsUninterrupted(t *testing.T) {
	e := newEnv(t, 4)
	stopAgg := e.runAggregator()
	defer stopAgg()
	url, stopCollector, err := e.collector()
	if err != nil {
		t.Fatal(err)
	}
	defer stopCollector()
	sc, err := scenariofile.Load(filepath.Join(testenv.RepoRoot(), "scenarios", "smoke.yaml"), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	streams := map[string]*sim.Stream{}
	logs, sizes := map[string]string{}, map[string]int64{}
	for _, id := range []string{"replay-straight", "replay-resumed"} {
		s := sc.Sim
		s.StreamID = id
		st := sim.Generate(s)
		streams[id] = st
		logs[id], sizes[id] = writeCapture(t, dir, id, st)
	}
	opts := replay.DefaultOptions(url, simToken)
	opts.BatchEvents, opts.Parallel = 200, 4
	if _, err := replay.Run(context.Background(), logs["replay-straight"], opts); err != nil {
		t.Fatal(err)
	}

	// Interrupted once the state file records a random part of the log as acknowledged.
	path := logs["replay-resumed"]
	opts.StatePath = path + replay.StateSuffix
	opts.StateInterval = 10 * time.Millisecond
	size := sizes["replay-resumed"]
	cut := size/10 + rand.Int64N(size*6/10) // somewhere in 10–70 % of the log
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if data, err := os.ReadFile(opts.StatePath); err == nil {
				var st struct {
					Offset int64 `json:"offset"`
				}
				if json.Unmarshal(data, &st) == nil && st.Offset >= cut {
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	first, err := replay.Run(ctx, path, opts)
	cancel()
	if err == nil {
		t.Logf("the replay finished before the cut at %d bytes; resuming sends nothing", cut)
	} else if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	second, err := replay.Run(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("interrupted after %d events were sent (cut at byte %d of %d), resumed at byte %d: the resumed run sent %d", first.Sent, cut, size, second.ResumedAt, second.Sent)
	if !second.Resumed || len(second.Closed) != 1 {
		t.Errorf("resumed run: %+v", second)
	}

	reports := map[string][]any{}
	for id, st := range streams {
		r := e.waitDone(st)
		checkAgainstTruth(t, r, sim.Oracle(st))
		for _, m := range r.Minutes {
			reports[id] = append(reports[id], []any{m.Start, m.Connected, m.Hearing, m.PeakConcurrent, m.PeakHearing,
				m.Joins, m.Leaves, m.Timeouts, m.Plays, m.Errors, m.StartFailures, m.PlayedMS, m.MutedMS, m.DisplayedMax, m.DisplayedLast})
		}
		reports[id] = append(reports[id], []any{r.CumeConnected, r.CumeHearing, r.CumeQualified, r.AQHPersons, r.PeakConcurrent})
	}
	if !reflect.DeepEqual(reports["replay-straight"], reports["replay-resumed"]) {
		t.Error("the interrupted and resumed replay measured other figures than the straight one")
	}
}

// writeCapture writes the stream's events as a collector received them (batches in arrival
// order, copies included) as gzip NDJSON: what a newsroom's capture looks like. size is the
// uncompressed length, the unit of the replay's offsets.
func writeCapture(t *testing.T, dir, id string, st *sim.Stream) (path string, size int64) {
	t.Helper()
	path = filepath.Join(dir, id+".ndjson.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	for _, b := range st.Batches {
		for _, ev := range b {
			line, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			n, err := zw.Write(append(line, '\n'))
			if err != nil {
				t.Fatal(err)
			}
			size += int64(n)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, size
}
