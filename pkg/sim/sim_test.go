package sim

import (
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/pkg/event"
	"github.com/earshot/earshot/pkg/session"
	"github.com/earshot/earshot/pkg/window"
)

func smallScenario() Scenario {
	sc := DemoScenario(400)
	sc.AudioDelay = 10 * time.Minute
	sc.Duration = 40 * time.Minute
	return sc
}

// record converts a client event as the collector would (without HTTP), keying listeners by
// a plain hash: the session code only needs distinct keys.
func record(e *client.Event) event.Record {
	typ, _ := event.ParseType([]byte(e.Type))
	r := event.Record{Type: typ, Fingerprint: event.Fingerprint([]byte(e.EventID)), EventTime: e.TS, ReceivedAt: e.TS,
		StreamID: []byte(e.StreamID), ErrorCode: []byte(e.ErrorCode)}
	if e.PlayedMS != nil {
		r.PlayedMS = uint32(*e.PlayedMS)
	}
	if e.DisplayedCount != nil {
		r.DisplayedCount = uint64(*e.DisplayedCount)
	}
	if e.Muted {
		r.Flags |= event.FlagMuted
	}
	if typ == event.TypeDisplayed {
		r.Listener = xxhash.Sum64String(e.StreamID)
	} else {
		r.Listener = xxhash.Sum64String(e.ListenerID)
	}
	return r
}

// feed adds every event of st to p in send order, calling afterBatch (if not nil) after each
// batch, as the aggregator takes output between flushes.
func feed(p *session.Partition, st *Stream, afterBatch func()) {
	off := int64(0)
	for _, b := range st.Batches {
		for i := range b {
			r := record(&b[i])
			p.Add(&r, off)
			off++
		}
		if afterBatch != nil {
			afterBatch()
		}
	}
}

// TestSessionCodeMatchesOracle runs a generated stream through one partition's session logic
// and checks every minute against the oracle.
func TestSessionCodeMatchesOracle(t *testing.T) {
	t.Run("flush", func(t *testing.T) { testMatchesOracle(t, false) })
	// As the aggregator ends a replayed stream: processing time jumps to the wall clock.
	t.Run("idle advance", func(t *testing.T) { testMatchesOracle(t, true) })
}

func testMatchesOracle(t *testing.T, idle bool) {
	st := Generate(smallScenario())
	truth := Oracle(st)
	p := session.New(session.DefaultConfig(), 0)
	minutes := map[int64]*window.Minute{}
	quarters := map[int64]uint64{}
	take := func() {
		o := p.TakeOutput()
		for _, m := range o.Minutes {
			minutes[m.Start] = m
		}
		for _, q := range o.Quarters {
			quarters[q.Start] = q.AQHPersons
		}
	}
	feed(p, st, take)
	if idle {
		p.AdvanceTo(time.Now().UnixMilli() - 35_000)
	} else {
		p.Flush()
	}
	take()
	if len(p.Dropped) != 0 {
		t.Fatalf("dropped %v", p.Dropped)
	}
	Compare(t, truth, func(start int64) (MinuteFigures, bool) {
		m, ok := minutes[start]
		if !ok {
			return MinuteFigures{}, false
		}
		return FiguresOf(m), true
	})
	for q, n := range truth.Quarters {
		if quarters[q] != uint64(n) {
			t.Errorf("quarter %s: AQH %d, truth %d", time.UnixMilli(q).UTC().Format("15:04"), quarters[q], n)
		}
	}
}
