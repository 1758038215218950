package session

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/earshot/earshot/internal/window"
)

// Hand-computed checks of the rules (docs/metrics.md). Every case runs in every delivery of
// the harness, which must agree; the expectations are checked on the result.

// fin is the final state of one stream "s", by minute and quarter index after specT0.
type fin struct {
	m    map[int]window.MinuteRow
	q    map[int]uint64
	rows *rows
}

func final(t *testing.T, evs []specEvent) fin {
	t.Helper()
	return finalWith(t, DefaultConfig(), evs)
}

func finalWith(t *testing.T, cfg Config, evs []specEvent) fin {
	t.Helper()
	recs := trusted("s", evs)
	var want *rows
	for _, d := range deliveries(recs, 11) {
		p := New(cfg, 0)
		got := feed(t, p, d.recs, "s")
		if len(p.Dropped) > 0 {
			t.Fatalf("delivered %s: dropped %v", d.name, p.Dropped)
		}
		if want == nil {
			want = got
		} else if diff := want.diff(got); diff != "" {
			t.Fatalf("delivered %s, the rows differ from in order:\n%s", d.name, diff)
		}
	}
	f := fin{m: map[int]window.MinuteRow{}, q: map[int]uint64{}, rows: want}
	for k, r := range want.minutes {
		if !r.Final {
			t.Fatalf("minute %s is not final after the stream was closed", k)
		}
		f.m[int((r.Minute.UnixMilli()-specT0)/window.MinuteMS)] = r
	}
	for _, q := range want.quarters {
		f.q[int((q.Start-specT0)/window.QuarterMS)] = q.AQHPersons
	}
	return f
}

func (f fin) at(t *testing.T, minute int) window.MinuteRow {
	t.Helper()
	r, ok := f.m[minute]
	if !ok {
		t.Fatalf("no row for minute %d (have %v)", minute, f.minutes())
	}
	return r
}

func (f fin) minutes() []int {
	var out []int
	for k := range f.m {
		out = append(out, k)
	}
	return out
}

// ones lists the seconds counted 1 (−1 in the list: some second counted more than once).
func ones(perSec []uint32) []int {
	var out []int
	for s, v := range perSec {
		if v > 1 {
			return []int{-1}
		}
		if v == 1 {
			out = append(out, s)
		}
	}
	return out
}

func span(from, to int) []int {
	var out []int
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func eq(a, b []int) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// ev1 builds one listener's events from a compact script: "join@5", "hb@16/10000",
// "hb@20/9000m" (muted), "hb@66/0s10000" (stalled), "leave@130", "play@6", "err@20:network".
// Times in seconds (decimals allowed); ids are unique per listener and time.
func ev1(listener string, script ...string) []specEvent {
	var out []specEvent
	for _, s := range script {
		typ, rest, _ := strings.Cut(s, "@")
		e := specEvent{Listener: listener}
		switch typ {
		case "hb":
			e.Type = "heartbeat"
		case "err":
			e.Type = "error"
			rest, e.Code, _ = strings.Cut(rest, ":")
		default:
			e.Type = typ
		}
		at, payload, _ := strings.Cut(rest, "/")
		secs, err := strconv.ParseFloat(at, 64)
		if err != nil {
			panic(s)
		}
		e.TS = int64(secs * 1000)
		if payload != "" {
			if strings.HasSuffix(payload, "m") {
				e.Muted, payload = true, strings.TrimSuffix(payload, "m")
			}
			played, stalled, _ := strings.Cut(payload, "s")
			e.Played, _ = strconv.ParseInt(played, 10, 64)
			e.Stalled, _ = strconv.ParseInt(stalled, 10, 64)
		}
		e.ID = fmt.Sprintf("%s-%s-%d", listener, typ, e.TS)
		out = append(out, e)
	}
	return out
}

func TestFullSession(t *testing.T) {
	script := []string{"join@5", "play@6"}
	for at := 16; at <= 126; at += 10 {
		script = append(script, fmt.Sprintf("hb@%d/10000", at))
	}
	f := final(t, ev1("a", append(script, "leave@130")...))
	m0, m1, m2 := f.at(t, 0), f.at(t, 1), f.at(t, 2)
	for i, m := range []window.MinuteRow{m0, m1, m2} {
		if m.Connected.Value != 1 || m.Hearing.Value != 1 || !m.Connected.Exact {
			t.Errorf("minute %d: connected %v hearing %v, want 1 and 1", i, m.Connected, m.Hearing)
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
	if got := ones(m0.ConnectedPerSec); !eq(got, span(5, 59)) {
		t.Errorf("minute 0 connected seconds %v", got)
	}
	if got := ones(m2.ConnectedPerSec); !eq(got, span(0, 9)) {
		t.Errorf("minute 2 connected seconds %v", got)
	}
	if got := ones(m2.HearingPerSec); !eq(got, span(0, 5)) {
		t.Errorf("minute 2 hearing seconds %v", got)
	}
	if _, ok := f.m[3]; ok {
		t.Error("a row for minute 3: the listener left at 130 s")
	}
}

func TestTimeoutCountsSilentListenerAsConnected(t *testing.T) {
	// Last event at 10 s: the session lives until 70 s and times out in minute 1, where the
	// listener sent nothing.
	f := final(t, ev1("a", "join@5", "hb@10/5000"))
	m1 := f.at(t, 1)
	if m1.Connected.Value != 1 || m1.Hearing.Value != 0 || m1.Timeouts != 1 {
		t.Fatalf("minute 1: connected %v hearing %v timeouts %d", m1.Connected, m1.Hearing, m1.Timeouts)
	}
	if got := ones(m1.ConnectedPerSec); !eq(got, span(0, 9)) {
		t.Fatalf("minute 1 connected seconds %v, want 0..9", got)
	}
	if m0 := f.at(t, 0); m0.Timeouts != 0 {
		t.Fatal("timeout counted in minute 0")
	}
}

func TestImplicitStartAndNewSessionAfterTimeout(t *testing.T) {
	// No join: the heartbeat starts the session where its audio began (10 s). 100 s of silence
	// end it (timeout at 80 s); the play at 120 s starts a second session.
	f := final(t, ev1("a", "hb@20/10000", "play@120", "leave@125"))
	m0, m1, m2 := f.at(t, 0), f.at(t, 1), f.at(t, 2)
	if got := ones(m0.ConnectedPerSec); !eq(got, span(10, 59)) {
		t.Fatalf("minute 0 connected seconds %v, want 10..59 (from the start of the audio)", got)
	}
	if m1.Timeouts != 1 {
		t.Fatalf("timeouts in minute 1: %d", m1.Timeouts)
	}
	if got := ones(m1.ConnectedPerSec); !eq(got, span(0, 19)) {
		t.Fatalf("minute 1 connected seconds %v, want 0..19 (until 80 s)", got)
	}
	if m2.Connected.Value != 1 || m2.Plays != 1 || m2.Leaves != 1 {
		t.Fatalf("minute 2: connected %v plays %d leaves %d", m2.Connected, m2.Plays, m2.Leaves)
	}
}

func TestHearingThresholdAndSplitAcrossMinutes(t *testing.T) {
	var evs []specEvent
	evs = append(evs, ev1("a", "hb@30/1999")...)   // below 2 000 ms: connected, not hearing
	evs = append(evs, ev1("b", "hb@30/2000")...)   // exactly 2 000 ms: hearing
	evs = append(evs, ev1("c", "hb@61/3000")...)   // [58,61): 2 s in minute 0, 1 s in minute 1
	evs = append(evs, ev1("d", "hb@30/10000m")...) // muted
	f := final(t, evs)
	m0, m1 := f.at(t, 0), f.at(t, 1)
	if m0.Connected.Value != 4 || m0.Hearing.Value != 2 {
		t.Fatalf("minute 0: connected %v hearing %v, want 4 and 2", m0.Connected, m0.Hearing)
	}
	if m1.Hearing.Value != 0 {
		t.Fatalf("minute 1 hearing %v: listener c rendered only 1 s there", m1.Hearing)
	}
	if m0.PlayedMS != 1999+2000+2000 || m1.PlayedMS != 1000 || m0.MutedMS != 10_000 {
		t.Fatalf("played %d/%d muted %d", m0.PlayedMS, m1.PlayedMS, m0.MutedMS)
	}
}

func TestStallsAreCountedNotHeard(t *testing.T) {
	// A stalled player: 4 s of audio and 6 s of buffering in a 10-s heartbeat, then a heartbeat
	// with no audio at all (10 s stalled): connected throughout, hearing only in the minute where
	// it rendered ≥ 2 s.
	f := final(t, ev1("a", "join@5", "play@6", "hb@16/4000s6000", "hb@66/0s10000", "leave@70"))
	m0, m1 := f.at(t, 0), f.at(t, 1)
	if m0.StalledMS != 6000 || m1.StalledMS != 10_000 || m0.PlayedMS != 4000 || m1.PlayedMS != 0 {
		t.Fatalf("stalled %d/%d played %d/%d", m0.StalledMS, m1.StalledMS, m0.PlayedMS, m1.PlayedMS)
	}
	if m0.Connected.Value != 1 || m0.Hearing.Value != 1 {
		t.Fatalf("minute 0: connected %v hearing %v", m0.Connected, m0.Hearing)
	}
	if m1.Connected.Value != 1 || m1.Hearing.Value != 0 {
		t.Fatalf("minute 1: connected %v hearing %v: a stalled player is connected, not hearing", m1.Connected, m1.Hearing)
	}
}

func TestCopiesCountOnceAndLeaveWithoutJoin(t *testing.T) {
	a := ev1("a", "join@5", "hb@15/10000")
	evs := append(append([]specEvent{}, a...), a...) // every event twice: client retries
	evs = append(evs, ev1("b", "leave@20")...)       // never joined
	f := final(t, evs)
	m0 := f.at(t, 0)
	if m0.Joins != 1 || m0.PlayedMS != 10_000 || m0.Leaves != 1 || m0.Connected.Value != 1 {
		t.Fatalf("joins %d played %d leaves %d connected %v", m0.Joins, m0.PlayedMS, m0.Leaves, m0.Connected)
	}
	var dup uint64
	for _, d := range f.rows.delivery {
		dup += d.Duplicates
	}
	if dup != 2 {
		t.Fatalf("duplicates counted %d, want 2 (in order)", dup)
	}
}

func TestHeartbeatStampedAtTheLeaveBelongsToTheSession(t *testing.T) {
	// A heartbeat with the leave's ts reports audio [23,33) s, which begins before the leave:
	// it belongs to the session the leave ends, whatever order they arrive in.
	f := final(t, ev1("a", "join@21", "play@22", "leave@33", "hb@33/10000"))
	m0 := f.at(t, 0)
	if m0.PlayedMS != 10_000 || m0.Timeouts != 0 || m0.Leaves != 1 || m0.StartFailures != 0 {
		t.Fatalf("played %d timeouts %d leaves %d failures %d", m0.PlayedMS, m0.Timeouts, m0.Leaves, m0.StartFailures)
	}
	if got := ones(m0.ConnectedPerSec); !eq(got, span(21, 32)) {
		t.Fatalf("connected seconds %v, want 21..32", got)
	}
}

func TestRejoinCountsOnceButSecondsTwice(t *testing.T) {
	f := final(t, ev1("a", "join@5", "play@6", "leave@20", "join@30", "play@31", "leave@40"))
	m0 := f.at(t, 0)
	want := append(span(5, 19), span(30, 39)...)
	if m0.Connected.Value != 1 || m0.Joins != 2 || m0.Leaves != 2 || !eq(ones(m0.ConnectedPerSec), want) {
		t.Fatalf("connected %v joins %d leaves %d seconds %v", m0.Connected, m0.Joins, m0.Leaves, ones(m0.ConnectedPerSec))
	}
}

func TestStartFailures(t *testing.T) {
	var evs []specEvent
	// a: joined, heartbeats without audio, still no play 30 s after start → failure at 35 s.
	evs = append(evs, ev1("a", "join@5", "hb@15/0", "hb@25/0", "hb@36/0", "hb@46/0")...)
	// b: joined and left after 10 s without playing → failure at the leave.
	evs = append(evs, ev1("b", "join@10", "leave@20")...)
	// c: played within 30 s → no failure.
	evs = append(evs, ev1("c", "join@10", "play@39")...)
	// d: muted audio still means the stream started.
	evs = append(evs, ev1("d", "join@10", "hb@20/9000m")...)
	// e: played exactly 30 s after joining: too late, a failure at 40 s.
	evs = append(evs, ev1("e", "join@10", "play@40")...)
	f := final(t, evs)
	if m0 := f.at(t, 0); m0.StartFailures != 3 {
		t.Fatalf("start failures %d, want 3", m0.StartFailures)
	}
	total := uint64(0)
	for _, m := range f.m {
		total += m.StartFailures
	}
	if total != 3 {
		t.Fatalf("start failures over all minutes %d, want 3", total)
	}
}

func TestOverlappingHeartbeatsCountOncePerSecond(t *testing.T) {
	var evs []specEvent
	evs = append(evs, ev1("a", "hb@20/10000", "hb@25/10000")...) // overlaps [15,20)
	evs = append(evs, ev1("b", "hb@20/10000")...)
	f := final(t, evs)
	m0 := f.at(t, 0)
	for s := range 60 {
		want := uint32(0)
		switch {
		case s >= 10 && s < 20:
			want = 2
		case s >= 20 && s < 25:
			want = 1
		}
		if m0.HearingPerSec[s] != want {
			t.Fatalf("second %d: %d hearing, want %d (all: %v)", s, m0.HearingPerSec[s], want, m0.HearingPerSec)
		}
	}
	// a's second heartbeat covers [15,25) but a already reported up to 20: [20,25) counts, the
	// overlap [15,20) is trimmed. Played: a 10000 + 5000, b 10000.
	if m0.PlayedMS != 25_000 || m0.PlayedTrimmedMS != 5_000 {
		t.Fatalf("played %d, trimmed %d; want 25000, 5000", m0.PlayedMS, m0.PlayedTrimmedMS)
	}
}

func TestQualifiedNeedsOneSession(t *testing.T) {
	var script []string
	// Two sessions of 40 s each, separated by a leave: never 60 s in one session.
	for _, base := range []int{0, 100} {
		script = append(script, fmt.Sprintf("join@%d", base+1))
		for at := base + 11; at <= base+41; at += 10 {
			script = append(script, fmt.Sprintf("hb@%d/10000", at))
		}
		script = append(script, fmt.Sprintf("leave@%d", base+42))
	}
	f := final(t, ev1("a", script...))
	for i, m := range f.m {
		if m.Qualified != 0 {
			t.Fatalf("minute %d: %d qualified", i, m.Qualified)
		}
	}
}

func TestAQHFiveMinuteRule(t *testing.T) {
	var evs []specEvent
	// a: 300 s of audio in quarter 0 → AQH. b: 290 s → not. c: 180 s before 00:15 and 180 s
	// after → AQH in neither quarter.
	for i := 1; i <= 30; i++ {
		evs = append(evs, ev1("a", fmt.Sprintf("hb@%d/10000", 100+10*i))...)
	}
	for i := 1; i <= 29; i++ {
		evs = append(evs, ev1("b", fmt.Sprintf("hb@%d/10000", 100+10*i))...)
	}
	for i := 1; i <= 36; i++ {
		evs = append(evs, ev1("c", fmt.Sprintf("hb@%d/10000", 720+10*i))...)
	}
	f := final(t, evs)
	if f.q[0] != 1 || f.q[1] != 0 {
		t.Fatalf("AQH persons: quarter 0 %d, quarter 1 %d; want 1 and 0", f.q[0], f.q[1])
	}
}

func TestDisplayedMaxAndLast(t *testing.T) {
	evs := []specEvent{
		{ID: "d1", Type: "displayed", TS: 10_000, Count: 915_000},
		{ID: "d2", Type: "displayed", TS: 40_000, Count: 1_300_000},
		{ID: "d3", Type: "displayed", TS: 50_000, Count: 1_200_000},
	}
	evs = append(evs, ev1("a", "err@20:network")...)
	evs = append(evs, ev1("b", "err@21:network", "err@22:decode")...)
	f := final(t, evs)
	m0 := f.at(t, 0)
	if !m0.HasDisplayed || m0.DisplayedMax != 1_300_000 || m0.DisplayedLast != 1_200_000 {
		t.Fatalf("displayed max %d last %d", m0.DisplayedMax, m0.DisplayedLast)
	}
	if m0.Errors != 3 || m0.ErrorsByCode["network"] != 2 || m0.ErrorsByCode["decode"] != 1 {
		t.Fatalf("errors %d %v", m0.Errors, m0.ErrorsByCode)
	}
	if m0.Connected.Value != 0 {
		t.Fatalf("connected %v: an error alone starts no session, displayed events are no listeners", m0.Connected)
	}
}
