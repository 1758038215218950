package session

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/earshot/earshot/pkg/event"
	"github.com/earshot/earshot/pkg/window"
)

// t0 is a minute- and quarter-aligned start: 13 Aug 2024 00:00 UTC.
var t0 = time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC).UnixMilli()

const sec = int64(1000)

type rec struct {
	typ      event.Type
	listener uint64
	at       int64 // ms after t0
	played   uint32
	stalled  uint32
	muted    bool
	id       string
	code     string
	count    uint64
}

func (r rec) record(stream string) event.Record {
	id := r.id
	if id == "" {
		id = fmt.Sprintf("%d-%d-%d", r.typ, r.listener, r.at)
	}
	out := event.Record{Type: r.typ, Listener: r.listener, Fingerprint: event.Fingerprint([]byte(id)), EventTime: t0 + r.at,
		PlayedMS: r.played, StalledMS: r.stalled, StreamID: []byte(stream), ErrorCode: []byte(r.code), DisplayedCount: r.count}
	if r.muted {
		out.Flags |= event.FlagMuted
	}
	return out
}

// result is the final state of every minute and quarter after all events and a Flush.
type result struct {
	minutes  map[int64]*window.Minute // by minute index from t0
	quarters map[int64]uint64
	p        *Partition
}

func run(t *testing.T, cfg Config, recs []rec) result {
	t.Helper()
	p := New(cfg, 0)
	res := result{minutes: map[int64]*window.Minute{}, quarters: map[int64]uint64{}, p: p}
	take := func() {
		o := p.TakeOutput()
		for _, m := range o.Minutes {
			res.minutes[(m.Start-t0)/window.MinuteMS] = m
		}
		for _, q := range o.Quarters {
			res.quarters[(q.Start-t0)/window.QuarterMS] = q.AQHPersons
		}
	}
	for i, r := range recs {
		rr := r.record("space-1")
		p.Add(&rr, int64(i))
		take()
	}
	p.Flush()
	take()
	return res
}

func (r result) m(t *testing.T, minute int64) *window.Minute {
	t.Helper()
	m, ok := r.minutes[minute]
	if !ok {
		t.Fatalf("no row for minute %d (have %v)", minute, keys(r.minutes))
	}
	return m
}

func keys(m map[int64]*window.Minute) []int64 {
	var out []int64
	for k := range m {
		out = append(out, k)
	}
	return out
}

func count(m *window.Minute) (connected, hearing float64) {
	return m.Connected.Count().Value, m.Hearing.Count().Value
}

func seconds(diff *[61]int32) (ones []int) {
	for s, v := range window.PerSecond(diff) {
		if v > 1 {
			return []int{-1}
		}
		if v == 1 {
			ones = append(ones, s)
		}
	}
	return ones
}

func span(from, to int) []int {
	var out []int
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func eq(a, b []int) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

const (
	join = event.TypeJoin
	lv   = event.TypeLeave
	hb   = event.TypeHeartbeat
	play = event.TypePlay
	errT = event.TypeError
	disp = event.TypeDisplayed
)

func TestFullSession(t *testing.T) {
	recs := []rec{{typ: join, listener: 1, at: 5 * sec}, {typ: play, listener: 1, at: 6 * sec}}
	for at := int64(16); at <= 126; at += 10 {
		recs = append(recs, rec{typ: hb, listener: 1, at: at * sec, played: 10_000})
	}
	recs = append(recs, rec{typ: lv, listener: 1, at: 130 * sec})
	r := run(t, DefaultConfig(), recs)

	m0, m1, m2 := r.m(t, 0), r.m(t, 1), r.m(t, 2)
	for i, m := range []*window.Minute{m0, m1, m2} {
		if c, h := count(m); c != 1 || h != 1 {
			t.Errorf("minute %d: connected %v hearing %v, want 1 and 1", i, c, h)
		}
	}
	// Audio: [6,126) s. Minute 0 holds [6,60) = 54 s, minute 1 all 60 s, minute 2 [120,126) = 6 s.
	if m0.PlayedMS != 54_000 || m1.PlayedMS != 60_000 || m2.PlayedMS != 6_000 {
		t.Errorf("played %d %d %d", m0.PlayedMS, m1.PlayedMS, m2.PlayedMS)
	}
	if m0.Joins != 1 || m0.Plays != 1 || m2.Leaves != 1 || m2.Timeouts != 0 || m0.StartFailures != 0 {
		t.Errorf("counters: joins %d plays %d leaves %d timeouts %d failures %d", m0.Joins, m0.Plays, m2.Leaves, m2.Timeouts, m0.StartFailures)
	}
	// Qualified when the session's audio reached 60 s: the heartbeat at 66 s (6+60).
	if m1.Qualified != 1 || m0.Qualified != 0 {
		t.Errorf("qualified in minute 0/1: %d/%d", m0.Qualified, m1.Qualified)
	}
	// Connected seconds: session [5,130): minute 0 seconds 5..59, minute 2 seconds 0..9.
	if got := seconds(&m0.ConnDiff); !eq(got, span(5, 59)) {
		t.Errorf("minute 0 connected seconds %v", got)
	}
	if got := seconds(&m2.ConnDiff); !eq(got, span(0, 9)) {
		t.Errorf("minute 2 connected seconds %v", got)
	}
	if got := seconds(&m2.HearDiff); !eq(got, span(0, 5)) {
		t.Errorf("minute 2 hearing seconds %v", got)
	}
	if _, ok := r.minutes[3]; ok && r.minutes[3].Connected.Count().Value != 0 {
		t.Error("listener connected after leaving")
	}
}

func TestTimeoutCountsSilentListenerAsConnected(t *testing.T) {
	// Last event at 10 s: the session lives until 70 s and times out in minute 1, where the
	// listener sent nothing.
	r := run(t, DefaultConfig(), []rec{{typ: join, listener: 7, at: 5 * sec}, {typ: hb, listener: 7, at: 10 * sec, played: 5000}})
	m1 := r.m(t, 1)
	if c, h := count(m1); c != 1 || h != 0 || m1.Timeouts != 1 {
		t.Fatalf("minute 1: connected %v hearing %v timeouts %d", c, h, m1.Timeouts)
	}
	if got := seconds(&m1.ConnDiff); !eq(got, span(0, 9)) {
		t.Fatalf("minute 1 connected seconds %v, want 0..9", got)
	}
	if m0 := r.m(t, 0); m0.Timeouts != 0 {
		t.Fatal("timeout counted in minute 0")
	}
}

func TestImplicitStartAndNewSessionAfterTimeout(t *testing.T) {
	// No join: the heartbeat starts the session. 100 s of silence end it (timeout at 80 s);
	// the play at 120 s starts a second session.
	r := run(t, DefaultConfig(), []rec{
		{typ: hb, listener: 3, at: 20 * sec, played: 10_000},
		{typ: play, listener: 3, at: 120 * sec},
		{typ: lv, listener: 3, at: 125 * sec},
	})
	m1, m2 := r.m(t, 1), r.m(t, 2)
	if m1.Timeouts != 1 {
		t.Fatalf("timeouts in minute 1: %d", m1.Timeouts)
	}
	if got := seconds(&m1.ConnDiff); !eq(got, span(0, 19)) {
		t.Fatalf("minute 1 connected seconds %v, want 0..19 (until 80 s)", got)
	}
	if c, _ := count(m2); c != 1 || m2.Plays != 1 || m2.Leaves != 1 {
		t.Fatalf("minute 2: connected %v plays %d leaves %d", c, m2.Plays, m2.Leaves)
	}
}

func TestHearingThresholdAndSplitAcrossMinutes(t *testing.T) {
	r := run(t, DefaultConfig(), []rec{
		{typ: hb, listener: 1, at: 30 * sec, played: 1999}, // below 2 000 ms: connected, not hearing
		{typ: hb, listener: 2, at: 30 * sec, played: 2000}, // exactly 2 000 ms: hearing
		{typ: hb, listener: 3, at: 61 * sec, played: 3000}, // [58,61): 2 s in minute 0, 1 s in minute 1
		{typ: hb, listener: 4, at: 30 * sec, played: 10_000, muted: true},
	})
	m0, m1 := r.m(t, 0), r.m(t, 1)
	if c, h := count(m0); c != 4 || h != 2 {
		t.Fatalf("minute 0: connected %v hearing %v, want 4 and 2", c, h)
	}
	if _, h := count(m1); h != 0 {
		t.Fatalf("minute 1 hearing %v: listener 3 rendered only 1 s there", h)
	}
	if m0.PlayedMS != 1999+2000+2000 || m1.PlayedMS != 1000 || m0.MutedMS != 10_000 {
		t.Fatalf("played %d/%d muted %d", m0.PlayedMS, m1.PlayedMS, m0.MutedMS)
	}
}

func TestStallsAreCountedNotHeard(t *testing.T) {
	// A stalled player: 4 s of audio and 6 s of buffering in a 10-s heartbeat, then a heartbeat
	// with no audio at all (10 s stalled): connected throughout, hearing only in the minute where
	// it rendered ≥ 2 s.
	var recs []rec
	recs = append(recs, rec{typ: join, listener: 1, at: 5 * sec}, rec{typ: play, listener: 1, at: 6 * sec})
	r := run(t, DefaultConfig(), append(recs,
		rec{typ: hb, listener: 1, at: 16 * sec, played: 4000, stalled: 6000},
		rec{typ: hb, listener: 1, at: 66 * sec, played: 0, stalled: 10_000},
		rec{typ: lv, listener: 1, at: 70 * sec}))
	m0, m1 := r.m(t, 0), r.m(t, 1)
	if m0.StalledMS != 6000 || m1.StalledMS != 10_000 || m0.PlayedMS != 4000 || m1.PlayedMS != 0 {
		t.Fatalf("stalled %d/%d played %d/%d", m0.StalledMS, m1.StalledMS, m0.PlayedMS, m1.PlayedMS)
	}
	if c, h := count(m0); c != 1 || h != 1 {
		t.Fatalf("minute 0: connected %v hearing %v", c, h)
	}
	if c, h := count(m1); c != 1 || h != 0 {
		t.Fatalf("minute 1: connected %v hearing %v: a stalled player is connected, not hearing", c, h)
	}
}

func TestDuplicatesAndLeaveWithoutJoin(t *testing.T) {
	r := run(t, DefaultConfig(), []rec{
		{typ: join, listener: 1, at: 5 * sec, id: "a"},
		{typ: join, listener: 1, at: 5 * sec, id: "a"}, // client retry
		{typ: hb, listener: 1, at: 15 * sec, played: 10_000, id: "b"},
		{typ: hb, listener: 1, at: 15 * sec, played: 10_000, id: "b"},
		{typ: lv, listener: 2, at: 20 * sec}, // never joined
	})
	m0 := r.m(t, 0)
	if m0.Joins != 1 || m0.Duplicates != 2 || m0.PlayedMS != 10_000 || m0.Leaves != 1 {
		t.Fatalf("joins %d duplicates %d played %d leaves %d", m0.Joins, m0.Duplicates, m0.PlayedMS, m0.Leaves)
	}
	if c, _ := count(m0); c != 1 {
		t.Fatalf("connected %v: a leave without join is no session", c)
	}
}

func TestEventAfterTheLeaveAtItsTimeIsNoNewSession(t *testing.T) {
	// A heartbeat stamped with the leave's time arrives after it (events of one time keep
	// Kafka order): a retry from before the leave, a duplicate, not a new session.
	r := run(t, DefaultConfig(), []rec{
		{typ: join, listener: 3, at: 21 * sec}, {typ: play, listener: 3, at: 22 * sec},
		{typ: lv, listener: 3, at: 33 * sec},
		{typ: hb, listener: 3, at: 33 * sec, played: 10_000, id: "retry"},
	})
	m0 := r.m(t, 0)
	if m0.Duplicates != 1 || m0.PlayedMS != 0 || m0.Timeouts != 0 {
		t.Fatalf("duplicates %d played %d timeouts %d", m0.Duplicates, m0.PlayedMS, m0.Timeouts)
	}
	for k, m := range r.minutes {
		if m.Timeouts != 0 {
			t.Fatalf("minute %d: a session timed out: the retry started one", k)
		}
	}
}

func TestRejoinCountsOnceButSecondsTwice(t *testing.T) {
	r := run(t, DefaultConfig(), []rec{
		{typ: join, listener: 1, at: 5 * sec}, {typ: play, listener: 1, at: 6 * sec}, {typ: lv, listener: 1, at: 20 * sec},
		{typ: join, listener: 1, at: 30 * sec}, {typ: play, listener: 1, at: 31 * sec}, {typ: lv, listener: 1, at: 40 * sec},
	})
	m0 := r.m(t, 0)
	want := append(span(5, 19), span(30, 39)...)
	if c, _ := count(m0); c != 1 || m0.Joins != 2 || m0.Leaves != 2 || !eq(seconds(&m0.ConnDiff), want) {
		t.Fatalf("connected %v joins %d leaves %d seconds %v", c, m0.Joins, m0.Leaves, seconds(&m0.ConnDiff))
	}
}

func TestStartFailures(t *testing.T) {
	recs := []rec{
		// 1: joined, heartbeats without audio, still no play 30 s after start → failure at 35 s.
		{typ: join, listener: 1, at: 5 * sec}, {typ: hb, listener: 1, at: 15 * sec}, {typ: hb, listener: 1, at: 25 * sec},
		{typ: hb, listener: 1, at: 36 * sec}, {typ: hb, listener: 1, at: 46 * sec},
		// 2: joined and left after 10 s without playing → failure at the leave.
		{typ: join, listener: 2, at: 10 * sec}, {typ: lv, listener: 2, at: 20 * sec},
		// 3: played within 30 s → no failure.
		{typ: join, listener: 3, at: 10 * sec}, {typ: play, listener: 3, at: 39 * sec},
		// 4: muted audio still means the stream started.
		{typ: join, listener: 4, at: 10 * sec}, {typ: hb, listener: 4, at: 20 * sec, played: 9000, muted: true},
	}
	sortByTime(recs)
	r := run(t, DefaultConfig(), recs)
	if m0 := r.m(t, 0); m0.StartFailures != 2 {
		t.Fatalf("start failures %d, want 2", m0.StartFailures)
	}
	total := uint64(0)
	for _, m := range r.minutes {
		total += m.StartFailures
	}
	if total != 2 {
		t.Fatalf("start failures over all minutes %d, want 2", total)
	}
}

func TestOverlappingHeartbeatsCountOncePerSecond(t *testing.T) {
	r := run(t, DefaultConfig(), []rec{
		{typ: hb, listener: 1, at: 20 * sec, played: 10_000},
		{typ: hb, listener: 1, at: 25 * sec, played: 10_000}, // overlaps [15,20)
		{typ: hb, listener: 2, at: 20 * sec, played: 10_000},
	})
	m0 := r.m(t, 0)
	got := window.PerSecond(&m0.HearDiff)
	for s := range 60 {
		want := uint32(0)
		switch {
		case s >= 10 && s < 20:
			want = 2
		case s >= 20 && s < 25:
			want = 1
		}
		if got[s] != want {
			t.Fatalf("second %d: %d hearing, want %d (all: %v)", s, got[s], want, got)
		}
	}
	// played_ms is what clients reported, overlap included.
	if m0.PlayedMS != 30_000 {
		t.Fatalf("played %d", m0.PlayedMS)
	}
}

func TestQualifiedNeedsOneSession(t *testing.T) {
	var recs []rec
	// Two sessions of 40 s each, separated by a leave: never 60 s in one session.
	for _, base := range []int64{0, 100} {
		recs = append(recs, rec{typ: join, listener: 1, at: (base + 1) * sec})
		for at := base + 11; at <= base+41; at += 10 {
			recs = append(recs, rec{typ: hb, listener: 1, at: at * sec, played: 10_000})
		}
		recs = append(recs, rec{typ: lv, listener: 1, at: (base + 42) * sec})
	}
	r := run(t, DefaultConfig(), recs)
	for i, m := range r.minutes {
		if m.Qualified != 0 {
			t.Fatalf("minute %d: %d qualified", i, m.Qualified)
		}
	}
}

func TestAQHFiveMinuteRule(t *testing.T) {
	var recs []rec
	// Listener 1: 300 s of audio in quarter 0 → AQH. Listener 2: 290 s → not.
	// Listener 3: 180 s before 00:15 and 180 s after → AQH in neither quarter.
	for i := int64(1); i <= 30; i++ {
		recs = append(recs, rec{typ: hb, listener: 1, at: (100 + 10*i) * sec, played: 10_000})
	}
	for i := int64(1); i <= 29; i++ {
		recs = append(recs, rec{typ: hb, listener: 2, at: (100 + 10*i) * sec, played: 10_000})
	}
	for i := int64(1); i <= 36; i++ {
		recs = append(recs, rec{typ: hb, listener: 3, at: (720 + 10*i) * sec, played: 10_000})
	}
	sortByTime(recs)
	r := run(t, DefaultConfig(), recs)
	if r.quarters[0] != 1 || r.quarters[1] != 0 {
		t.Fatalf("AQH persons: quarter 0 %d, quarter 1 %d; want 1 and 0", r.quarters[0], r.quarters[1])
	}
}

func sortByTime(recs []rec) {
	for i := 1; i < len(recs); i++ {
		for j := i; j > 0 && recs[j-1].at > recs[j].at; j-- {
			recs[j-1], recs[j] = recs[j], recs[j-1]
		}
	}
}

func TestDisplayedMaxAndLast(t *testing.T) {
	r := run(t, DefaultConfig(), []rec{
		{typ: disp, listener: 99, at: 10 * sec, count: 915_000},
		{typ: disp, listener: 99, at: 40 * sec, count: 1_300_000},
		{typ: disp, listener: 99, at: 50 * sec, count: 1_200_000},
		{typ: errT, listener: 1, at: 20 * sec, code: "network"},
		{typ: errT, listener: 2, at: 21 * sec, code: "network"},
		{typ: errT, listener: 2, at: 22 * sec, code: "decode"},
	})
	m0 := r.m(t, 0)
	if !m0.HasDisplayed || m0.DisplayedMax != 1_300_000 || m0.DisplayedLast != 1_200_000 {
		t.Fatalf("displayed max %d last %d", m0.DisplayedMax, m0.DisplayedLast)
	}
	if m0.Errors != 3 || m0.ErrorsByCode["network"] != 2 || m0.ErrorsByCode["decode"] != 1 {
		t.Fatalf("errors %d %v", m0.Errors, m0.ErrorsByCode)
	}
	if c, _ := count(m0); c != 2 {
		t.Fatalf("connected %v: displayed events are not listeners", c)
	}
}

func TestOutOfOrderWithinLatenessMatchesInOrder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var recs []rec
	for l := uint64(1); l <= 200; l++ {
		start := int64(rnd.IntN(300)) * sec
		recs = append(recs, rec{typ: join, listener: l, at: start}, rec{typ: play, listener: l, at: start + 1500})
		n := 1 + rnd.IntN(30)
		for i := 1; i <= n; i++ {
			recs = append(recs, rec{typ: hb, listener: l, at: start + int64(i)*10*sec, played: 10_000, muted: rnd.IntN(10) == 0})
		}
		if rnd.IntN(2) == 0 {
			recs = append(recs, rec{typ: lv, listener: l, at: start + int64(n)*10*sec + 3*sec})
		}
	}
	sortByTime(recs)
	inOrder := run(t, DefaultConfig(), recs)
	// Deliver in the order of time plus a random delay of up to 20 s (less than the 35 s
	// lateness): the same figures.
	type delayed struct {
		r  rec
		at int64
	}
	var ds []delayed
	for _, r := range recs {
		ds = append(ds, delayed{r, r.at + int64(rnd.IntN(20_000))})
	}
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j-1].at > ds[j].at; j-- {
			ds[j-1], ds[j] = ds[j], ds[j-1]
		}
	}
	var shuffled []rec
	for _, d := range ds {
		shuffled = append(shuffled, d.r)
	}
	got := run(t, DefaultConfig(), shuffled)
	if len(got.minutes) != len(inOrder.minutes) {
		t.Fatalf("%d minutes vs %d", len(got.minutes), len(inOrder.minutes))
	}
	for k, a := range inOrder.minutes {
		b := got.minutes[k]
		ra, _ := a.Row(0, 0)
		rb, _ := b.Row(0, 0)
		ra.Version, rb.Version = 0, 0
		if fmt.Sprint(ra) != fmt.Sprint(rb) {
			t.Fatalf("minute %d differs:\n in order %+v\n shuffled %+v", k, ra, rb)
		}
	}
	if got.p.Dropped["too_late"] != 0 {
		t.Fatal("events within the lateness were dropped")
	}
}

func TestLateEventsAreCorrections(t *testing.T) {
	p := New(DefaultConfig(), 0)
	add := func(r rec, off int64) {
		rr := r.record("s")
		p.Add(&rr, off)
	}
	add(rec{typ: join, listener: 1, at: 10 * sec}, 1)
	add(rec{typ: hb, listener: 1, at: 300 * sec, played: 10_000}, 2) // processing time moves to 265 s
	first := p.TakeOutput()
	var m0 *window.Minute
	for _, m := range first.Minutes {
		if m.Start == t0 {
			m0 = m
		}
	}
	if m0 == nil {
		t.Fatal("minute 0 not emitted")
	}
	add(rec{typ: join, listener: 2, at: 20 * sec}, 3) // 245 s late, within the 10-minute retention
	again := p.TakeOutput()
	found := false
	for _, m := range again.Minutes {
		if m.Start == t0 {
			found = true
			if m.Late != 1 || m.Joins != 2 || m.Connected.Count().Value != 2 {
				t.Fatalf("correction: late %d joins %d connected %v", m.Late, m.Joins, m.Connected.Count().Value)
			}
		}
	}
	if !found {
		t.Fatal("corrected minute not re-emitted")
	}
	add(rec{typ: join, listener: 3, at: 3000 * sec}, 4)
	add(rec{typ: join, listener: 4, at: 30 * sec}, 5) // beyond retention
	if p.Dropped["too_late"] != 1 {
		t.Fatalf("dropped %v", p.Dropped)
	}
}

func TestCheckpointResumesIdentically(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 7))
	var recs []rec
	for l := uint64(1); l <= 300; l++ {
		start := int64(rnd.IntN(600)) * sec
		recs = append(recs, rec{typ: join, listener: l, at: start})
		for i := 1; i <= 1+rnd.IntN(40); i++ {
			recs = append(recs, rec{typ: hb, listener: l, at: start + int64(i)*10*sec, played: 10_000})
		}
	}
	recs = append(recs, rec{typ: disp, listener: 99, at: 100 * sec, count: 1000}, rec{typ: errT, listener: 5, at: 200 * sec, code: "net"})
	sortByTime(recs)
	feed := func(p *Partition, from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			rr := recs[i].record("space-1")
			p.Add(&rr, int64(i))
		}
		if to == len(recs) {
			p.Flush()
		}
		for _, m := range p.TakeOutput().Minutes {
			r, _ := m.Row(0, 0)
			out = append(out, fmt.Sprint(r))
		}
		return out
	}
	whole := New(DefaultConfig(), 3)
	a := append(feed(whole, 0, len(recs)/2), feed(whole, len(recs)/2, len(recs))...)

	first := New(DefaultConfig(), 3)
	b := feed(first, 0, len(recs)/2)
	data, err := first.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := Restore(DefaultConfig(), data)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Offset != int64(len(recs)/2-1) || resumed.ID() != 3 {
		t.Fatalf("restored offset %d id %d", resumed.Offset, resumed.ID())
	}
	b = append(b, feed(resumed, len(recs)/2, len(recs))...)
	slices.Sort(a) // emission order within one call follows map order
	slices.Sort(b)
	if len(a) != len(b) {
		t.Fatalf("%d rows vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("row %d differs after restore:\n%s\n%s", i, a[i], b[i])
		}
	}
}
