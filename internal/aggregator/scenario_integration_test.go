package aggregator_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/result"
	scenariofile "github.com/earshot/earshot/internal/scenario"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/pkg/client"
)

// TestSmokeScenarioEndToEnd runs scenarios/smoke.yaml through collector → Kafka → aggregator →
// ClickHouse and checks every metric against the truth of its plans (exact ones exactly,
// distinct ones inside their intervals); then the same file at three times the audience. The
// same claim — the smaller stream's measured peak in the claim's minute — is consistent for
// one and understated for the other: verdicts come from what was measured, nothing is written
// in.
func TestSmokeScenarioEndToEnd(t *testing.T) {
	e := newEnv(t, 4)
	stop := e.runAggregator()
	defer stop()
	path := filepath.Join(testenv.RepoRoot(), "scenarios", "smoke.yaml")
	var streams []*sim.Stream
	for _, scale := range []float64{1, 3} {
		sc, err := scenariofile.Load(path, scale, 0)
		if err != nil {
			t.Fatal(err)
		}
		if scale != 1 {
			sc.Sim.StreamID += "-x3"
		}
		st := sim.Generate(sc.Sim)
		e.send(st)
		r := e.waitDone(st)
		checkAgainstTruth(t, r, sim.Oracle(st))
		streams = append(streams, st)
	}
	ctx := context.Background()
	said := time.Date(2024, 8, 13, 0, 10, 20, 0, time.UTC)
	small, err := result.Load(ctx, e.conn, streams[0].Scenario.StreamID, time.Time{}, time.Time{}, result.Tolerance)
	if err != nil {
		t.Fatal(err)
	}
	// smoke.yaml's counter shows 1.5 × everyone who joined.
	if c := small.DisplayedCounter; c == nil || c.Best == nil || c.Best.Series != "cumulative_joins" || math.Abs(c.Best.Factor/1.5-1) > 0.05 {
		t.Errorf("displayed counter of joins × 1.5: %+v", c)
	}
	var claimed float64
	for _, m := range small.Minutes {
		if m.Minute.Equal(said.Truncate(time.Minute)) {
			claimed = float64(m.PeakConcurrent)
		}
	}
	if claimed == 0 {
		t.Fatal("no listeners in the claim's minute")
	}
	verdict := func(st *sim.Stream) string {
		c := claims.Claim{ID: "same", StreamID: st.Scenario.StreamID, ClaimedValue: claimed, Metric: claims.MetricConcurrent, SaidAt: said}
		res, err := result.Load(ctx, e.conn, st.Scenario.StreamID, time.Time{}, time.Time{}, result.Tolerance, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range res.Claims {
			if v.Claim.ID == "same" {
				t.Logf("%s: %s", st.Scenario.StreamID, v.Sentence)
				return v.Verdict
			}
		}
		t.Fatal("no verdict")
		return ""
	}
	if a, b := verdict(streams[0]), verdict(streams[1]); a != claims.Consistent || b != claims.Understated {
		t.Errorf("the claim of %.0f: %s for the smoke stream, %s for three times its audience; want consistent, understated", claimed, a, b)
	}
}

// TestSmokeThroughCollectorAndDirect sends the smoke scenario round robin through a collector
// over HTTP and through the collector's pipeline writing to Kafka directly (simulate
// --to-kafka), as two collectors would share players: with the same hash key the listener
// keys agree, and every figure equals the truth.
func TestSmokeThroughCollectorAndDirect(t *testing.T) {
	e := newEnv(t, 4)
	stop := e.runAggregator()
	defer stop()
	sc, err := scenariofile.Load(filepath.Join(testenv.RepoRoot(), "scenarios", "smoke.yaml"), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	sc.Sim.StreamID += "-direct"
	url, stopCollector, err := e.collector()
	if err != nil {
		t.Fatal(err)
	}
	defer stopCollector()
	ccfg := collector.DefaultConfig()
	ccfg.Hash.Key = "integration-hashing-key-0123456789abcdef" // the collector's (e.collector)
	direct, err := collector.NewDirect(ccfg, e.kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	g := sim.NewGenerator(sc.Sim)
	res, err := sim.SendBatches(context.Background(), []sim.Sender{client.New(url, simToken), direct}, sc.Sim.StreamID,
		sc.Sim.Heartbeat, g.All(), 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected != 0 || res.Accepted < g.Events() {
		t.Fatalf("%d accepted, %d rejected of %d events", res.Accepted, res.Rejected, g.Events())
	}
	st := g.Skeleton()
	r := e.waitDone(st)
	checkAgainstTruth(t, r, sim.Oracle(st))
}
