package scenario

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/testenv"
)

func TestTheNightFile(t *testing.T) {
	sc, err := Load(filepath.Join(testenv.RepoRoot(), "scenarios", "x-spaces-2024-08-12.yaml"), 0.0016, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := sc.Sim
	// 1 250 000 × 0.0016 = 2 000; 60 000 000 × 0.0016 = 96 000.
	if s.Listeners != 2000 || s.AudioDelay != 45*time.Minute || s.Duration != 75*time.Minute || s.StreamID != "x-space-2024-08-12" ||
		!s.Start.Equal(time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)) || s.Seed != 20240812 || s.DisplayedSeries != sim.DisplayedJoined {
		t.Errorf("%+v", s)
	}
	if len(sc.Sources) < 4 || len(sc.Claims) != 5 {
		t.Fatalf("%d sources, %d claims", len(sc.Sources), len(sc.Claims))
	}
	c := sc.Claims[1]
	if c.ID != "trump-60m-listening" || c.ClaimedValue != 96_000 || c.StreamID != "x-space-2024-08-12" ||
		!strings.Contains(c.Claimant, "scaled 1:625 for the simulation") || !c.SaidAt.Equal(time.Date(2024, 8, 13, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("%+v", c)
	}
	full, err := Load(filepath.Join(testenv.RepoRoot(), "scenarios", "x-spaces-2024-08-12.yaml"), 1, 99)
	if err != nil {
		t.Fatal(err)
	}
	if full.Sim.Listeners != 1_250_000 || full.Claims[1].ClaimedValue != 60e6 || full.Sim.Seed != 99 || strings.Contains(full.Claims[1].Claimant, "scaled") {
		t.Errorf("full scale: %d listeners, claim %v, seed %d", full.Sim.Listeners, full.Claims[1].ClaimedValue, full.Sim.Seed)
	}
}

// TestSameSeedSameEvents: a scenario file and a seed determine the events.
func TestSameSeedSameEvents(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(), "scenarios", "smoke.yaml")
	a, err := Load(path, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Load(path, 1, 0)
	c, _ := Load(path, 1, 8)
	ga, gb, gc := sim.Generate(a.Sim), sim.Generate(b.Sim), sim.Generate(c.Sim)
	if !reflect.DeepEqual(ga.Batches, gb.Batches) {
		t.Error("the same file and seed gave different events")
	}
	if reflect.DeepEqual(ga.Batches, gc.Batches) {
		t.Error("another seed gave the same events")
	}
}

func TestErrorsNameTheField(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ yaml, want string }{
		{"listners: 5\n", "field listners not found"},
		{"sources: [x]\nstream_id: s\nstart: 2024-08-13T00:00:00Z\nduration: 10m\nlisteners: 10\nfail_rate: 1.5\n", "fail_rate: 1.5"},
		{"sources: [x]\nstream_id: s\nstart: yesterday\nduration: 10m\nlisteners: 10\n", "start:"},
		{"sources: [x]\nstream_id: s\nstart: 2024-08-13T00:00:00Z\nduration: 10m\naudio_delay: 20m\nlisteners: 10\n", "audio_delay:"},
		{"stream_id: s\nstart: 2024-08-13T00:00:00Z\nduration: 10m\nlisteners: 10\n", "sources: required"},
		{"sources: [x]\nstream_id: s\nstart: 2024-08-13T00:00:00Z\nduration: 10m\nlisteners: 10\nclaims:\n  - claim_id: c\n    claimed_value: 5\n    metric: views\n", "claims[0]"},
		{"sources: [x]\nstream_id: s\nstart: 2024-08-13T00:00:00Z\nduration: 10m\nlisteners: 10\ndisplayed:\n  series: views\n", "displayed.series"},
	} {
		path := filepath.Join(dir, "s.yaml")
		os.WriteFile(path, []byte(c.yaml), 0o644)
		if _, err := Load(path, 1, 0); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.yaml, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(testenv.RepoRoot(), "scenarios", "smoke.yaml"), 0.0001, 0); err == nil || !strings.Contains(err.Error(), "scale") {
		t.Errorf("a scale that leaves nobody: %v", err)
	}
}

// TestTruthOfSmoke: the truth file holds the oracle's figures, minutes in order, the counter
// null in minutes without it.
func TestTruthOfSmoke(t *testing.T) {
	sc, err := Load(filepath.Join(testenv.RepoRoot(), "scenarios", "smoke.yaml"), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := sim.Generate(sc.Sim)
	oracle := sim.Oracle(st)
	tr := TruthOf(st, oracle, 1)
	if tr.Totals.PeakConcurrent != oracle.PeakConcurrent || tr.Totals.CumeConnected != oracle.CumeConnected ||
		tr.Totals.AQHPersons != oracle.AQHPersons() || tr.Totals.StartFailures != oracle.Failures || len(tr.Minutes) != len(oracle.Minutes) {
		t.Errorf("totals %+v", tr.Totals)
	}
	if want := float64(oracle.PlayedMS) / 1000 / float64(oracle.CumeHearing); tr.Totals.TSLSeconds != want {
		t.Errorf("TSL %v, want %v", tr.Totals.TSLSeconds, want)
	}
	withCounter := 0
	for i, m := range tr.Minutes {
		if i > 0 && !m.Minute.After(tr.Minutes[i-1].Minute) {
			t.Fatal("minutes out of order")
		}
		if m.DisplayedMax != nil {
			withCounter++
		}
	}
	if withCounter == 0 || withCounter == len(tr.Minutes) {
		t.Errorf("%d of %d minutes with the counter: the smoke stream's last minute has none", withCounter, len(tr.Minutes))
	}
	var b strings.Builder
	if err := tr.Write(&b); err != nil || !strings.Contains(b.String(), `"displayed_max": null`) {
		t.Errorf("JSON: %v", err)
	}
}
