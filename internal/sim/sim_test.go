package sim

import (
	"reflect"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/session"
	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/pkg/event"
)

func smallScenario() Scenario {
	sc := DemoScenario(400)
	sc.AudioDelay = 10 * time.Minute
	sc.Duration = 40 * time.Minute
	return sc
}

// record converts a client event as the collector would for a trusted-time token (a replay of
// a past stream).
func record(e *client.Event) event.Record { return Record(e, event.FlagTrustedTime) }

// feed adds every event of st to p in send order, calling afterBatch (if not nil) after each
// batch, as the aggregator takes output between flushes. It returns the newest event time.
func feed(p *session.Partition, st *Stream, afterBatch func()) int64 {
	off := int64(0)
	var last int64
	for _, b := range st.Batches {
		for i := range b {
			r := record(&b[i])
			p.Add(&r, off)
			off++
			last = max(last, r.EventTime)
		}
		if afterBatch != nil {
			afterBatch()
		}
	}
	return last
}

// TestSessionCodeMatchesOracle runs a generated stream through one partition's session logic
// and checks every final minute against the oracle.
func TestSessionCodeMatchesOracle(t *testing.T) {
	t.Run("end event", func(t *testing.T) { testMatchesOracle(t, false) })
	// A replay that is never ended: it closes after session.replay_idle of ingest time.
	t.Run("replay idle", func(t *testing.T) { testMatchesOracle(t, true) })
}

func testMatchesOracle(t *testing.T, idle bool) {
	st := Generate(smallScenario())
	truth := Oracle(st)
	cfg := session.DefaultConfig()
	p := session.New(cfg, 0)
	minutes := map[int64]window.MinuteRow{}
	quarters := map[int64]uint64{}
	take := func() {
		o := p.TakeOutput()
		for _, m := range o.Minutes {
			r, err := m.Row(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			minutes[m.Start] = r
		}
		for _, q := range o.Quarters {
			quarters[q.Start] = q.AQHPersons
		}
	}
	last := feed(p, st, take)
	if idle {
		for at := last; at <= last+cfg.ReplayIdle.Milliseconds(); at += 1000 {
			tick := event.Record{Type: event.TypeTick, EventTime: at, ReceivedAt: at}
			p.Add(&tick, 1<<40)
		}
	} else {
		end := event.Record{Type: event.TypeEnd, Flags: event.FlagTrustedTime, StreamID: []byte(st.Scenario.StreamID), EventTime: last, ReceivedAt: last}
		p.Add(&end, 1<<40)
	}
	take()
	if len(p.Dropped) != 0 {
		t.Fatalf("dropped %v", p.Dropped)
	}
	for start, r := range minutes {
		if !r.Final {
			t.Fatalf("minute %s not final after the stream ended", time.UnixMilli(start).UTC().Format("15:04"))
		}
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

// TestDisplayedConnected checks the "connected" counter against a count over every plan's
// session at each instant shown, and that the session code still matches the oracle.
func TestDisplayedConnected(t *testing.T) {
	sc := smallScenario()
	sc.DisplayedSeries = DisplayedConnected
	sc.DisplayedFactor = 1.5
	sc.DisplayedEvery = 10 * time.Second
	st := Generate(sc)
	if len(st.Displayed) < 200 {
		t.Fatalf("%d displayed samples", len(st.Displayed))
	}
	for i := 1; i < len(st.Displayed); i++ {
		if d := st.Displayed[i].T - st.Displayed[i-1].T; d != 10_000 {
			t.Fatalf("samples %d ms apart, want DisplayedEvery", d)
		}
	}
	varied := false
	for _, d := range st.Displayed {
		n := 0
		for i := range st.Plans {
			if st.Plans[i].Join <= d.T && d.T < sessionEnd(&st.Plans[i]) {
				n++
			}
		}
		if want := int64(float64(n) * 1.5); d.Played != want {
			t.Fatalf("at %s: shown %d, want %d (1.5 × %d connected)", time.UnixMilli(d.T).UTC().Format("15:04:05"), d.Played, want, n)
		}
		varied = varied || d.Played != st.Displayed[0].Played
	}
	if !varied {
		t.Fatal("the counter never changed")
	}
	// The plans and client events are the same as with the default counter: only the counter's
	// values differ.
	joined := smallScenario()
	joined.DisplayedEvery = sc.DisplayedEvery
	def := Generate(joined)
	if !reflect.DeepEqual(def.Plans, st.Plans) || def.Events != st.Events || len(def.Displayed) != len(st.Displayed) {
		t.Fatalf("plans %d/%d, events %d/%d, displayed %d/%d", len(def.Plans), len(st.Plans), def.Events, st.Events, len(def.Displayed), len(st.Displayed))
	}
	p := session.New(session.DefaultConfig(), 0)
	minutes := map[int64]window.MinuteRow{}
	last := feed(p, st, nil)
	end := event.Record{Type: event.TypeEnd, Flags: event.FlagTrustedTime, StreamID: []byte(sc.StreamID), EventTime: last, ReceivedAt: last}
	p.Add(&end, 1<<40)
	for _, m := range p.TakeOutput().Minutes {
		r, err := m.Row(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		minutes[m.Start] = r
	}
	Compare(t, Oracle(st), func(start int64) (MinuteFigures, bool) {
		m, ok := minutes[start]
		return FiguresOf(m), ok
	})
}

func TestUnknownDisplayedSeries(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an unknown DisplayedSeries")
		}
	}()
	sc := smallScenario()
	sc.DisplayedSeries = "views"
	Generate(sc)
}
