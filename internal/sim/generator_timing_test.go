package sim

import (
	"testing"
	"time"
)

// The streaming generator against the obvious baseline, Generate (the whole stream held):
// the same events, B/op shows what holding them costs.
func benchScenario() Scenario {
	sc := DemoScenario(20_000)
	sc.Duration, sc.AudioDelay = 20*time.Minute, 5*time.Minute
	return sc
}

func BenchmarkGeneratorStream(b *testing.B) {
	sc := benchScenario()
	var events int
	for b.Loop() {
		g := NewGenerator(sc)
		for range g.All() {
		}
		events = g.Events()
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkGenerateWhole(b *testing.B) {
	sc := benchScenario()
	var events int
	for b.Loop() {
		events = Generate(sc).Events
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
