package sqlpeer

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/pkg/client"
)

// load writes the NDJSON text to a file of the test's own, creates a fresh table and loads it.
func load(t *testing.T, conn driver.Conn, ndjson []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, ndjson, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	table := strings.ToLower(testenv.Name(t, "sqlpeer"))
	if err := CreateTable(ctx, conn, table); err != nil {
		t.Fatal(err)
	}
	if err := LoadNDJSON(ctx, conn, table, path); err != nil {
		t.Fatal(err)
	}
	return table
}

func ndjsonOf(t *testing.T, st *sim.Stream) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := WriteNDJSON(&buf, st.All()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func query(t *testing.T, conn driver.Conn, table, stream string) ([]Minute, StreamTotals) {
	t.Helper()
	ctx := context.Background()
	ms, err := Minutes(ctx, conn, table, stream)
	if err != nil {
		t.Fatal(err)
	}
	tot, err := Totals(ctx, conn, table, stream)
	if err != nil {
		t.Fatal(err)
	}
	return ms, tot
}

// compareOracle checks every minute and the totals against the oracle, exactly.
func compareOracle(t *testing.T, ms []Minute, tot StreamTotals, tr *sim.Truth) {
	t.Helper()
	diffs := Check(ms, tot, tr)
	for i, d := range diffs {
		if i == 10 {
			t.Errorf("... %d differences in all", len(diffs))
			break
		}
		t.Error(d)
	}
	t.Logf("%d minutes; cume %d, cume hearing %d, peak %d, peak hearing %d",
		len(ms), tot.CumeConnected, tot.CumeHearing, tot.PeakConcurrent, tot.PeakConcurrentHearing)
}

// scenarios are the simulated streams compared with the oracle: the demo, and one with every
// delivery fault the simulator has (copies sent later, late batches) and many vanishing and
// muted listeners.
func scenarios() map[string]sim.Scenario {
	faulty := sim.DemoScenario(1500)
	faulty.StreamID = "sqlpeer-faulty"
	faulty.Duration = 40 * time.Minute
	faulty.AudioDelay = 5 * time.Minute
	faulty.DuplicateRate, faulty.DuplicateBy = 0.2, 3*time.Minute
	faulty.LateRate, faulty.LateBy = 0.2, 10*time.Minute
	faulty.VanishRate, faulty.MuteRate, faulty.FailRate = 0.4, 0.3, 0.2
	faulty.Seed = 7
	return map[string]sim.Scenario{"demo": sim.DemoScenario(2000), "faulty": faulty}
}

func TestOracle(t *testing.T) {
	conn := testenv.ClickHouseDB(t)
	for name, sc := range scenarios() {
		t.Run(name, func(t *testing.T) {
			st := sim.Generate(sc)
			table := load(t, conn, ndjsonOf(t, st))
			ms, tot := query(t, conn, table, sc.StreamID)
			compareOracle(t, ms, tot, sim.Oracle(st))
		})
	}
}

// TestDelivery: the figures are a function of the set of distinct events — the same events
// shuffled, with a tenth of the lines repeated, give the same rows.
func TestDelivery(t *testing.T) {
	conn := testenv.ClickHouseDB(t)
	sc := scenarios()["faulty"]
	sc.Listeners = 500
	st := sim.Generate(sc)
	text := ndjsonOf(t, st)
	lines := strings.SplitAfter(string(text), "\n")
	r := rand.New(rand.NewPCG(1, 2))
	n := len(lines)
	for range n / 10 {
		lines = append(lines, lines[r.IntN(n)])
	}
	r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	straight, shuffled := load(t, conn, text), load(t, conn, []byte(strings.Join(lines, "")))
	ms1, tot1 := query(t, conn, straight, sc.StreamID)
	ms2, tot2 := query(t, conn, shuffled, sc.StreamID)
	if !reflect.DeepEqual(ms1, ms2) || tot1 != tot2 {
		t.Errorf("shuffled and repeated lines changed the figures:\n%+v %+v\n%+v %+v", ms1, tot1, ms2, tot2)
	}
	if len(ms1) == 0 {
		t.Error("no minutes")
	}
}

// TestByHand checks a small stream worked out by hand from the SPEC. Times are seconds after
// 00:00:00 of 2024-08-13 UTC (minute 0 = 00:00, minute 1 = 00:01, ...).
//
//	a: join 10; heartbeats 20 (played 5 s) and 30 (played 10 s); leave 40.
//	   Session [10, 40): connected in minute 0. Audio [15, 30), 15 s: hearing in minute 0.
//	b: heartbeat 70 (played 10 s) with no join: the session starts at 60 (ts − played_ms);
//	   heartbeat 80 (played 3 s, muted); then nothing: the session times out 60 s after its
//	   last event, at 140. Session [60, 140): minutes 1 and 2. Unmuted audio [60, 70):
//	   hearing in minute 1.
//	c: join 50; heartbeat 62 (played 2.5 s) — audio [59.5, 62): 0.5 s in minute 0, 2 s in
//	   minute 1 —, sent twice; an error 100; leave 110. Session [50, 110): minutes 0 and 1.
//	   Hearing in minute 1 only (exactly 2 000 ms).
//	d: error 30 alone: no session. Then join 90 and leave 90 (the same ms, written in RFC 3339
//	   with fields the load ignores): a session of no length, connected in minute 1, in no second.
//	e: heartbeats without played_ms, or with more than 10 minutes: the collector would reject
//	   them, and they are not loaded. No session.
//
// Per second (a listener counts at second s when s + 0.5 lies in its session):
//
//	connected: a 10..39, c 50..109, b 60..139 (d: none). Minute 0: a and c never overlap: 1;
//	minute 1: b and c at 60..109: 2; minute 2: b at 120..139: 1.
//	hearing: a [15, 30) → 15..29; c [59.5, 62) → 59..61; b [60, 70) → 60..69. Minute 0: 1;
//	minute 1: b and c at 60 and 61: 2; minute 2: 0.
//
// Minutes: 0: connected a, c (2), hearing a (1); 1: connected b, c, d (3), hearing b, c (2);
// 2: connected b (1). Cume: a, b, c, d connected (4); a, b, c hearing (3); peak 2, peak hearing 2.
func TestByHand(t *testing.T) {
	conn := testenv.ClickHouseDB(t)
	base := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC).UnixMilli()
	at := func(sec float64) int64 { return base + int64(sec*1000) }
	var evs []client.Event
	add := func(l, id, typ string, sec float64, played int64, muted bool) {
		e := client.Event{EventID: id, Type: typ, StreamID: "hand", ListenerID: l, TS: at(sec), Muted: muted}
		if typ == "heartbeat" {
			e.PlayedMS = client.Int(played)
		}
		evs = append(evs, e)
	}
	add("a", "a1", "join", 10, 0, false)
	add("a", "a2", "heartbeat", 20, 5000, false)
	add("a", "a3", "heartbeat", 30, 10000, false)
	add("a", "a4", "leave", 40, 0, false)
	add("b", "b1", "heartbeat", 70, 10000, false)
	add("b", "b2", "heartbeat", 80, 3000, true)
	add("c", "c1", "join", 50, 0, false)
	add("c", "c2", "heartbeat", 62, 2500, false)
	add("c", "c2", "heartbeat", 62, 2500, false)
	add("c", "c3", "error", 100, 0, false)
	add("c", "c4", "leave", 110, 0, false)
	add("d", "d1", "error", 30, 0, false)
	// Another stream's events in the same table must not count.
	evs = append(evs, client.Event{EventID: "x", Type: "join", StreamID: "other", ListenerID: "a", TS: at(10)})
	var buf bytes.Buffer
	for _, e := range evs {
		b, _ := json.Marshal(e)
		buf.Write(append(b, '\n'))
	}
	buf.WriteString(`{"event_id":"d2","type":"join","stream_id":"hand","listener_id":"d","ts":"2024-08-13T00:01:30Z","sent_at":1,"client":{"app":"web"}}` + "\n")
	buf.WriteString(`{"event_id":"d3","type":"leave","stream_id":"hand","listener_id":"d","ts":"2024-08-13T00:01:30.000Z"}` + "\n")
	buf.WriteString(`{"event_id":"e1","type":"heartbeat","stream_id":"hand","listener_id":"e","ts":1723507230000}` + "\n")
	buf.WriteString(`{"event_id":"e2","type":"heartbeat","stream_id":"hand","listener_id":"e","ts":1723507230000,"played_ms":600001}` + "\n")
	table := load(t, conn, buf.Bytes())
	ms, tot := query(t, conn, table, "hand")
	minute := func(i int64) time.Time { return time.UnixMilli(base + i*60_000).UTC() }
	want := []Minute{
		{Start: minute(0), Connected: 2, Hearing: 1, PeakConcurrent: 1, PeakConcurrentHearing: 1},
		{Start: minute(1), Connected: 3, Hearing: 2, PeakConcurrent: 2, PeakConcurrentHearing: 2},
		{Start: minute(2), Connected: 1, Hearing: 0, PeakConcurrent: 1, PeakConcurrentHearing: 0},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("minutes\n got %+v\nwant %+v", ms, want)
	}
	if w := (StreamTotals{CumeConnected: 4, CumeHearing: 3, PeakConcurrent: 2, PeakConcurrentHearing: 2}); tot != w {
		t.Errorf("totals %+v, want %+v", tot, w)
	}
}
