package sim

import (
	"testing"
	"time"

	"github.com/earshot/earshot/pkg/session"
)

// TestIdleAdvanceClosesEveryQuarter replays a 2024 stream and then advances processing time to
// now, as the aggregator does for an idle partition: every quarter hour with a minute of the
// stream gets its AQH row, the last one included.
func TestIdleAdvanceClosesEveryQuarter(t *testing.T) {
	st := Generate(DemoScenario(200))
	p := session.New(session.DefaultConfig(), 0)
	quarters := map[int64]bool{}
	feed(p, st, nil)
	for _, q := range p.TakeOutput().Quarters {
		quarters[q.Start] = true
	}
	p.AdvanceTo(time.Now().UnixMilli() - 35_000)
	for _, q := range p.TakeOutput().Quarters {
		quarters[q.Start] = true
	}
	for q := st.Scenario.Start.UnixMilli(); q <= st.LastQuarter(); q += 15 * 60_000 {
		if !quarters[q] {
			t.Fatalf("no AQH row for the quarter at %s", time.UnixMilli(q).UTC().Format("15:04"))
		}
	}
}
