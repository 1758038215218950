package session

import "fmt"

// Hand-computed expectations for TestSpecCases, derived from SPEC.md ("Definitions", "Time, late
// events and duplicates"), docs/metrics.md ("Sessions", "Per minute", "Over a range, a quarter
// hour, the stream") and docs/time.md only — never from this package's code.
//
// Conventions used in every comment below:
//   - times are ms after specT0; minute m = [60000·m, 60000·(m+1)); quarter q = [900000·q, 900000·(q+1)).
//   - a heartbeat at ts with played p covers audio [ts−p, ts) and BEGINS at ts−p; every other event
//     begins at its ts. Events are taken in order of (begin, ts, type join<play<heartbeat<error<leave,
//     id), except that a leave that begins and ends at the same ms as other events goes first when a
//     session was live just before that ms and last when not (metrics.md, Sessions).
//   - a session is live on [start, last+60000) (last = latest ts of its events) and ends at its
//     first leave (its ts) or at last+60000 (a timeout, counted in the minute of last+60000). An event
//     beginning at or after last+60000 finds no live session.
//   - "s" is the second within the minute; the listener counts at s when the instant
//     60·m + s + 0.5 (seconds) lies in one of its sessions (connected) or in the union of its
//     unmuted [ts−p, ts) intervals (hearing). All sessions/intervals are half-open.
//   - start failure: no play (by ts) and no heartbeat with p > 0 (muted or not) BEGINNING in
//     [start, start+30000); counted in minute(start+30000), or minute(end) if end < start+30000.
//   - qualified: running sum of the session's unmuted played_ms, heartbeats taken in the order above;
//     counted in the minute of the ts of the heartbeat at which it reaches ≥ 60000.
//   - Every case spans less than the 30-min correction horizon, so no event can be too_late
//     whatever the delivery order.
//   - hcSecs(n1, v1, n2, v2, …) = n1 seconds with value v1, then n2 seconds with v2, … (60 in all).
//
// Readings where the written rules leave room (the cases that depend on them say so by name):
//   - R1: every session not ended by a leave ends by timeout at last + 60 s, even after the last
//     event of the case: nothing in SPEC/metrics.md says that closing a trusted stream (an `end`
//     event, `earshot streams close`, replay_idle) cuts live sessions or suppresses their timeouts.
//     Nearly every case depends on this.
//   - R2: per-second hearing (PeakHearing, HearingPerSec) has no 2 000-ms threshold: metrics.md
//     defines it only as "s + 0.5 s lies in the union of the listener's unmuted [ts − played_ms, ts)
//     intervals". Only the two cases named "(reading R2…)" depend on it (the others keep
//     sub-threshold audio off the s + 0.5 instants).
//   - R3 (revised with the rule): when a session is live before an instant shared by several
//     events, play/heartbeat/error come first, then a leave, then a join; the last case pins it.
//   - Audio intervals are half-open [ts − played_ms, ts) as in metrics.md (SPEC writes the closed
//     [ts − played_ms, ts]); no heartbeat that matters for a per-second figure ends on an s + 0.5
//     instant, so the difference changes no expected figure here.
//   - Start failures apply to every session (metrics.md: "sessions without a play or rendered
//     audio"), not only to sessions opened by a join (SPEC: "joined but no play within 30 s").
//
// The figures were computed by hand and then re-derived with a throw-away program written
// from the same reading of the docs (not from this package), which agreed on every field.

// hcSecs builds a per-second slice from (count, value) runs.
func hcSecs(runs ...int) []int {
	var out []int
	for i := 0; i+1 < len(runs); i += 2 {
		for k := 0; k < runs[i]; k++ {
			out = append(out, runs[i+1])
		}
	}
	return out
}

func hcJoin(id, l string, ts int64) specEvent {
	return specEvent{ID: id, Type: "join", Listener: l, TS: ts}
}
func hcLeave(id, l string, ts int64) specEvent {
	return specEvent{ID: id, Type: "leave", Listener: l, TS: ts}
}
func hcPlay(id, l string, ts int64) specEvent {
	return specEvent{ID: id, Type: "play", Listener: l, TS: ts}
}
func hcHB(id, l string, ts, played int64) specEvent {
	return specEvent{ID: id, Type: "heartbeat", Listener: l, TS: ts, Played: played}
}
func hcMutedHB(id, l string, ts, played int64) specEvent {
	return specEvent{ID: id, Type: "heartbeat", Listener: l, TS: ts, Played: played, Muted: true}
}
func hcStallHB(id, l string, ts, played, stalled int64) specEvent {
	return specEvent{ID: id, Type: "heartbeat", Listener: l, TS: ts, Played: played, Stalled: stalled}
}
func hcErr(id, l string, ts int64, code string) specEvent {
	return specEvent{ID: id, Type: "error", Listener: l, TS: ts, Code: code}
}
func hcDisp(id string, ts, count int64) specEvent {
	return specEvent{ID: id, Type: "displayed", TS: ts, Count: count}
}

// hcBeats is a player's regular heartbeats: one every 10 s at ts = from, from+10000, …, to, each
// with played_ms played and stalled_ms stalled, ids prefix+ts ("a610000").
func hcBeats(prefix, l string, from, to, played, stalled int64) []specEvent {
	var out []specEvent
	for ts := from; ts <= to; ts += 10000 {
		out = append(out, specEvent{ID: fmt.Sprintf("%s%d", prefix, ts), Type: "heartbeat",
			Listener: l, TS: ts, Played: played, Stalled: stalled})
	}
	return out
}

// hcMuted returns the events with Muted set.
func hcMuted(evs []specEvent) []specEvent {
	out := make([]specEvent, len(evs))
	for i, e := range evs {
		e.Muted = true
		out[i] = e
	}
	return out
}

// hcList concatenates single events and event slices.
func hcList(items ...any) []specEvent {
	var out []specEvent
	for _, it := range items {
		switch v := it.(type) {
		case specEvent:
			out = append(out, v)
		case []specEvent:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("hcList: %T", it))
		}
	}
	return out
}

// hcTimes repeats an event n times (copies: same id and fields).
func hcTimes(n int, e specEvent) []specEvent {
	out := make([]specEvent, n)
	for i := range out {
		out[i] = e
	}
	return out
}

var specCases = []specCase{
	// ---------------------------------------------------------------- sessions: the basics

	// a: join 0, play 0, heartbeats at 10000..50000 (5 × played 10000), leave 52000.
	// Session [0, 52000) (ended by the leave, no timeout). Audio [0, 50000) = 50000 ms, unmuted.
	// minute 0: connected s0..51 (51.5 < 52) = 52 s; hearing s0..49 = 50 s; 50000 ≥ 2000 → hearing 1.
	// joins 1, plays 1, leaves 1; start failure: play at start → none; qualified: 50000 < 60000 → no.
	{
		Name: "basic join, play, heartbeats, leave",
		Why:  "SPEC Definitions (connected, hearing); metrics.md Sessions (session ends at the first leave) and Per minute (counters by ts, played_ms by overlap)",
		Events: hcList(
			hcJoin("a1", "a", 0), hcPlay("a2", "a", 0),
			hcBeats("a", "a", 10000, 50000, 10000, 0),
			hcLeave("a3", "a", 52000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(52, 1, 8, 0), HearingPerSec: hcSecs(50, 1, 10, 0),
				Joins: 1, Leaves: 1, Plays: 1, PlayedMS: 50000},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: join 0, play 0, heartbeats 10000 and 20000 (played 10000 each), then vanishes.
	// last = 20000 → session [0, 80000), timeout at 80000 → minute 1.
	// minute 0: connected all 60 s; audio [0, 20000) → hearing s0..19, played 20000.
	// minute 1: session covers [60000, 80000) → connected s0..19 (79.5 < 80); timeouts 1.
	{
		Name: "vanish: timeout at last + 60 s, connected until then",
		Why:  "SPEC Definitions: session ends session_timeout (60 s) after the last event; metrics.md Per minute: timeouts in the minute of last + 60 s, connected where the session overlaps",
		Events: hcList(
			hcJoin("a1", "a", 0), hcPlay("a2", "a", 0),
			hcHB("a3", "a", 10000, 10000), hcHB("a4", "a", 20000, 10000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(20, 1, 40, 0),
				Joins: 1, Plays: 1, PlayedMS: 20000},
			1: {Connected: 1, PeakConcurrent: 1,
				ConnectedPerSec: hcSecs(20, 1, 40, 0), HearingPerSec: hcSecs(60, 0),
				Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: join 0 and nothing else. Session [0, 60000): timeout at 60000 = start of minute 1.
	// minute 0: connected all 60 s; joins 1; start failure (no play/audio in [0, 30000), session
	// ends at 60000, not sooner) counted in minute(30000) = 0.
	// minute 1: the session does not overlap [60000, 120000) (half-open) → connected 0, but the
	// timeout (at 60000) is counted here: a row holding only timeouts 1.
	{
		Name:   "timeout exactly on a minute boundary: timeout row without connected",
		Why:    "metrics.md Sessions: live on [start, last + 60 s); Per minute: timeouts in the minute of last + 60 s; connected = sessions that overlap the minute; start failure at start + 30 s",
		Events: hcList(hcJoin("a1", "a", 0)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(60, 1),
				Joins: 1, StartFailures: 1},
			1: {Timeouts: 1},
		},
		Cume: &specCume{Connected: 1},
	},

	// a: join 30000; hb 40000 p10000 [30000,40000); silent 50 s; hb 95000 p5000 [90000,95000)
	// (begins 90000 < 40000+60000 → same session); hb 120000 p10000 [110000,120000) (begins 110000
	// < 95000+60000); leave 125000. Session [30000, 125000).
	// minute 0: connected s30..59 (30 s); audio 10000 → hearing, s30..39.
	// minute 1: connected all 60 s, including s0..29 where nothing is heard (silent listener);
	//   audio 5000 + 10000 = 15000 → hearing, s30..34 and s50..59.
	// minute 2: session [120000, 125000) → connected s0..4; leaves 1; no audio (the heartbeat at
	//   120000 reported [110000, 120000), all in minute 1).
	{
		Name: "session spanning minute boundaries; silent 50 s still connected",
		Why:  "SPEC Definitions: connected = live session at any moment of the window; metrics.md Per minute: connected where the session overlaps, hearing only where audio lies",
		Events: hcList(
			hcJoin("a1", "a", 30000),
			hcHB("a2", "a", 40000, 10000), hcHB("a3", "a", 95000, 5000), hcHB("a4", "a", 120000, 10000),
			hcLeave("a5", "a", 125000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(30, 0, 30, 1), HearingPerSec: hcSecs(30, 0, 10, 1, 20, 0),
				Joins: 1, PlayedMS: 10000},
			1: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(30, 0, 5, 1, 15, 0, 10, 1),
				PlayedMS: 15000},
			2: {Connected: 1, PeakConcurrent: 1,
				ConnectedPerSec: hcSecs(5, 1, 55, 0), HearingPerSec: hcSecs(60, 0),
				Leaves: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: play 20000 only. A play of a listener without a live session starts one at its ts:
	// session [20000, 80000), timeout at 80000 (minute 1). No audio (a play reports none).
	// minute 0: connected s20..59 (40 s); plays 1; no start failure (play at start).
	// minute 1: connected s0..19; timeouts 1.
	{
		Name:   "a play alone starts a session",
		Why:    "SPEC Definitions: a session starts at the first heartbeat/play of an unknown listener; metrics.md Sessions",
		Events: hcList(hcPlay("a1", "a", 20000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(20, 0, 40, 1), Plays: 1},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(20, 1, 40, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1},
	},

	// a: join 0 play 0 leave 20000; c: join 10000 play 10000 leave 40000; b: join 30000 play 30000
	// leave 50000. Sessions a [0,20000), c [10000,40000), b [30000,50000).
	// per second: s0..9 a=1; s10..19 a,c=2; s20..29 c=1; s30..39 c,b=2; s40..49 b=1; s50..59 0.
	// connected 3 (each overlaps minute 0) but peak 2. joins 3, plays 3, leaves 3; no start
	// failure (every session has a play at its start, even though it lasts < 30 s).
	{
		Name: "connected counts the whole minute, peak one second",
		Why:  "SPEC Definitions: connected = live at any moment of the window; peak_concurrent = at any second; metrics.md Per minute (s + 0.5 rule)",
		Events: hcList(
			hcJoin("a1", "a", 0), hcPlay("a2", "a", 0), hcLeave("a3", "a", 20000),
			hcJoin("c1", "c", 10000), hcPlay("c2", "c", 10000), hcLeave("c3", "c", 40000),
			hcJoin("b1", "b", 30000), hcPlay("b2", "b", 30000), hcLeave("b3", "b", 50000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 3, PeakConcurrent: 2,
				ConnectedPerSec: hcSecs(10, 1, 10, 2, 10, 1, 10, 2, 10, 1, 10, 0), HearingPerSec: hcSecs(60, 0),
				Joins: 3, Plays: 3, Leaves: 3},
		},
		Cume: &specCume{Connected: 3},
	},

	// ---------------------------------------------------------------- hearing

	// Audio placed so that no interval, open or closed at its end, contains an instant k·1000+500
	// (per-second hearing stays 0 whatever reading of the per-second rule, so only the 2 000-ms
	// threshold is tested):
	// a: hb 11499 p998 [10501,11499), hb 12499 p998 [11501,12499), hb 13499 p4 [13495,13499) → 2000 ms.
	// b: same, last one hb 13499 p3 [13496,13499) → 1999 ms.
	// Sessions (started by the first heartbeat at 10501; last 13499): [10501, 73499) each.
	// minute 0: connected 2, s11..59 (s10: 10.5 < 10.501 → no) → 11×0, 49×2; hearing: a 2000 ≥ 2000
	//   yes, b 1999 no → 1; per-second hearing 0 everywhere → peak hearing 0; played 3999.
	// minute 1: connected 2, s0..12 (72.5 < 73.499; s13 is 73.5 ≥ 73.499); timeouts 2.
	// No start failure: each session starts where its first heartbeat's audio begins.
	{
		Name: "hearing threshold: 2000 ms hears, 1999 ms does not",
		Why:  "SPEC Definitions: hearing = at least hearing_min_ms (2 000) of unmuted audio in the window; metrics.md Per minute: ≥ 2 000 ms, sum of overlaps",
		Events: hcList(
			hcHB("a1", "a", 11499, 998), hcHB("a2", "a", 12499, 998), hcHB("a3", "a", 13499, 4),
			hcHB("b1", "b", 11499, 998), hcHB("b2", "b", 12499, 998), hcHB("b3", "b", 13499, 3),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 2, Hearing: 1, PeakConcurrent: 2, PeakHearing: 0,
				ConnectedPerSec: hcSecs(11, 0, 49, 2), HearingPerSec: hcSecs(60, 0),
				PlayedMS: 3999},
			1: {Connected: 2, PeakConcurrent: 2,
				ConnectedPerSec: hcSecs(13, 2, 47, 0), HearingPerSec: hcSecs(60, 0),
				Timeouts: 2},
		},
		Cume: &specCume{Connected: 2, Hearing: 1},
	},

	// a: hb 30000 p2000 only → audio [28000, 30000), session [28000, 90000) (timeout 90000, minute 1).
	// minute 0: connected s28..59 (32 s); hearing 2000 ≥ 2000 → 1; per-second hearing s28, s29.
	// minute 1: connected s0..29; timeouts 1.
	{
		Name:   "hearing exactly 2000 ms in one interval",
		Why:    "metrics.md Per minute: hearing ≥ 2 000 ms; Sessions: a heartbeat's session starts at ts − played_ms",
		Events: hcList(hcHB("a1", "a", 30000, 2000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(28, 0, 32, 1), HearingPerSec: hcSecs(28, 0, 2, 1, 30, 0),
				PlayedMS: 2000},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(30, 1, 30, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: hb 30000 p1999 only → audio [28001, 30000), session [28001, 90000).
	// minute 0: connected s28..59 (28.5 ≥ 28.001); hearing: 1999 < 2000 → 0.
	// READING R2: the per-second hearing rule (metrics.md "peak concurrent hearing: … s + 0.5 s lies in
	// the union of the listener's unmuted intervals") states no 2 000-ms threshold, so s28 (28.5) and
	// s29 (29.5) count → PeakHearing 1 although Hearing is 0.
	// minute 1: connected s0..29; timeouts 1.
	{
		Name:   "1999 ms: not hearing, yet heard at two seconds (reading R2)",
		Why:    "metrics.md Per minute: hearing needs ≥ 2 000 ms; peak concurrent hearing is defined by s + 0.5 in the unmuted intervals with no threshold (reading R2)",
		Events: hcList(hcHB("a1", "a", 30000, 1999)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 0, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(28, 0, 32, 1), HearingPerSec: hcSecs(28, 0, 2, 1, 30, 0),
				PlayedMS: 1999},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(30, 1, 30, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1},
	},

	// a: join 55000, play 55000, hb 65000 p10000 [55000,65000), hb 75000 p10000 [65000,75000),
	// leave 76000. Session [55000, 76000).
	// minute 0: [55000,60000) → 5000 ms (≥ 2000 → hearing), s55..59; connected s55..59.
	// minute 1: [60000,65000) 5000 + [65000,75000) 10000 = 15000, s0..14; connected s0..15 (75.5 < 76).
	{
		Name: "audio split by overlap across a minute boundary (5000 + 5000)",
		Why:  "SPEC Definitions: played_ms covers [ts − played_ms, ts] and is split across windows in proportion to the overlap",
		Events: hcList(
			hcJoin("a1", "a", 55000), hcPlay("a2", "a", 55000),
			hcHB("a3", "a", 65000, 10000), hcHB("a4", "a", 75000, 10000),
			hcLeave("a5", "a", 76000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(55, 0, 5, 1), HearingPerSec: hcSecs(55, 0, 5, 1),
				Joins: 1, Plays: 1, PlayedMS: 5000},
			1: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(16, 1, 44, 0), HearingPerSec: hcSecs(15, 1, 45, 0),
				Leaves: 1, PlayedMS: 15000},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: hb 61000 p2000 only → audio [59000, 61000): 1000 ms in minute 0, 1000 ms in minute 1.
	// Session [59000, 121000), timeout at 121000 (minute 2).
	// Neither minute reaches 2000 → hearing 0 in both, so cume hearing 0 (the union of the minutes'
	// hearing sets is empty) although 2000 ms were heard in all.
	// minute 0: connected s59; per-second hearing s59 (59.5) — reading R2, no threshold per second.
	// minute 1: connected all 60 s; per-second hearing s0 (60.5 < 61).
	// minute 2: connected s0 (120.5 < 121); timeouts 1.
	{
		Name:   "2000 ms split 1000 + 1000: hearing in no minute, cume hearing 0 (reading R2 for peaks)",
		Why:    "metrics.md Per minute: hearing is per minute (overlap ≥ 2 000 ms); Over a range: cume hearing = union of the minutes' sets; peak hearing per second without threshold (reading R2)",
		Events: hcList(hcHB("a1", "a", 61000, 2000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(59, 0, 1, 1), HearingPerSec: hcSecs(59, 0, 1, 1),
				PlayedMS: 1000},
			1: {Connected: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(1, 1, 59, 0),
				PlayedMS: 1000},
			2: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(1, 1, 59, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 0},
	},

	// a: join 0, hb 10000 p10000 muted, hb 20000 p10000 muted, leave 40000. Session [0, 40000).
	//   muted_ms 20000, played_ms 0, not hearing; the muted heartbeat at 10000 begins at 0 with
	//   played_ms > 0 → rendered audio within 30 s → no start failure.
	// b: join 0, leave 40000, nothing else → no play, no audio → start failure; session ends at 40000,
	//   not before 30000 → counted in minute(30000) = 0.
	// minute 0: connected 2 (s0..39 = 2), hearing 0, joins 2, leaves 2, start failures 1 (b).
	{
		Name: "muted audio: not hearing, but rendered (no start failure)",
		Why:  "SPEC Definitions: hearing counts unmuted audio; metrics.md Per minute: start failures excused by a heartbeat with played_ms > 0, muted or not; muted_ms",
		Events: hcList(
			hcJoin("a1", "a", 0), hcMutedHB("a2", "a", 10000, 10000), hcMutedHB("a3", "a", 20000, 10000),
			hcLeave("a4", "a", 40000),
			hcJoin("b1", "b", 0), hcLeave("b2", "b", 40000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 2, Hearing: 0, PeakConcurrent: 2, PeakHearing: 0,
				ConnectedPerSec: hcSecs(40, 2, 20, 0), HearingPerSec: hcSecs(60, 0),
				Joins: 2, Leaves: 2, StartFailures: 1, MutedMS: 20000},
		},
		Cume: &specCume{Connected: 2},
	},

	// a: join 0, hb 10000 p10000 muted [0,10000), hb 10400 p400 unmuted [10000,10400), leave 11000.
	// Unmuted audio 400 ms < 2000 → not hearing (the 10000 muted ms do not add to the threshold);
	// [10000,10400) holds no instant s+0.5 → per-second hearing 0.
	// minute 0: connected s0..10 (10.5 < 11) = 11 s; played 400, muted 10000; joins 1, leaves 1.
	{
		Name: "muted audio does not count towards the hearing threshold",
		Why:  "metrics.md Per minute: hearing = ≥ 2 000 ms of unmuted audio; played_ms vs muted_ms",
		Events: hcList(
			hcJoin("a1", "a", 0), hcMutedHB("a2", "a", 10000, 10000), hcHB("a3", "a", 10400, 400),
			hcLeave("a4", "a", 11000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1,
				ConnectedPerSec: hcSecs(11, 1, 49, 0), HearingPerSec: hcSecs(60, 0),
				Joins: 1, Leaves: 1, PlayedMS: 400, MutedMS: 10000},
		},
		Cume: &specCume{Connected: 1},
	},

	// ---------------------------------------------------------------- overlapping audio, where events begin

	// a (one account, two devices): join 0; device 1 heartbeats at 10000..60000 (6 × p10000) →
	// [0, 60000); device 2 heartbeats at 15000..65000 (6 × p10000) → [5000, 65000); leave 66000.
	// One session [0, 66000) (every heartbeat begins inside it).
	// Begin order: d1@10000 [0,10000), d2@15000 [5000,15000), d1@20000 [10000,20000), d2@25000, …
	// Each heartbeat after the first begins 5000 before the previous event's ts, so its audio is
	// trimmed to [previous ts, ts): 5000 counted, 5000 cut (played_trimmed_ms, in its ts's minute).
	// The listener heard the union [0, 65000): minute 0 played 60000, minute 1 5000.
	// Cuts by ts minute: minute 0 d2@15k,25k,35k,45k,55k and d1@20k,30k,40k,50k → 9 × 5000 = 45000;
	//   minute 1 d1@60000 (audio [55000,60000), in minute 0) and d2@65000 → 10000.
	// Qualified: running sum in begin order 10k, 15k, 20k, … reaches 60000 at the 11th heartbeat,
	//   d1@60000 → minute 1.
	// minute 0: hearing 1 listener; per second the union → 1 at every second (never 2).
	// minute 1: [60000, 65000) → 5000; hearing s0..4; connected s0..5 (65.5 < 66); leaves 1.
	{
		Name: "two devices on one account: the overlap is trimmed, heard once per second",
		Why:  "SPEC: played_ms is audio rendered since the previous heartbeat, a listener counts once per second; metrics.md Per minute: overlapping audio of one listener is trimmed (played_trimmed_ms)",
		Events: hcList(
			hcJoin("a1", "a", 0),
			hcBeats("d1-", "a", 10000, 60000, 10000, 0),
			hcBeats("d2-", "a", 15000, 65000, 10000, 0),
			hcLeave("a2", "a", 66000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(60, 1),
				Joins: 1, PlayedMS: 60000, TrimmedMS: 45000},
			1: {Connected: 1, Hearing: 1, Qualified: 1, QualifiedSessions: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(6, 1, 54, 0), HearingPerSec: hcSecs(5, 1, 55, 0),
				Leaves: 1, PlayedMS: 5000, TrimmedMS: 10000},
		},
		Cume: &specCume{Connected: 1, Hearing: 1, Qualified: 1},
	},

	// a forged stack: join 0, then six heartbeats 200 ms apart (ts 10000, 10200, …, 11000), each
	// claiming played 10000. Begin order = ts order (begins 0, 200, …, 1000). The first counts
	// [0, 10000); each later one begins before the previous ts, so only [previous ts, ts) = 200 ms
	// counts and 9800 are cut: played 10000 + 5 × 200 = 11000, trimmed 49000. Without the trim the
	// session would have 60000 ms and be qualified; it is not.
	// Session [0, 71000) (last 11000 + 60 s): minute 0 connected all 60 s, hearing s0..10;
	// minute 1 connected s0..10 (70.5 < 71), timeouts 1.
	{
		Name: "stacked heartbeats count the time since the previous one, not their sum",
		Why:  "SPEC: played_ms is audio rendered since the previous heartbeat; metrics.md Per minute: overlaps are trimmed (played_trimmed_ms), so stacking cannot make a listener hearing or qualified",
		Events: hcList(
			hcJoin("a1", "a", 0),
			hcHB("s1", "a", 10000, 10000), hcHB("s2", "a", 10200, 10000), hcHB("s3", "a", 10400, 10000),
			hcHB("s4", "a", 10600, 10000), hcHB("s5", "a", 10800, 10000), hcHB("s6", "a", 11000, 10000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(11, 1, 49, 0),
				Joins: 1, PlayedMS: 11000, TrimmedMS: 49000},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(11, 1, 49, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: one heartbeat at 70000 with played 45000, no join. The session starts where its audio
	// begins: 70000 − 45000 = 25000; last 70000 → session [25000, 130000), timeout 130000 (minute 2).
	// minute 0: connected s25..59 (35 s); audio [25000, 60000) = 35000, hearing s25..59.
	// minute 1: connected all 60 s; audio [60000, 70000) = 10000, hearing s0..9.
	// minute 2: connected s0..9 (129.5 < 130); timeouts 1. No start failure (audio at start).
	{
		Name:   "first heartbeat with long played_ms and no join starts the session at ts − played_ms",
		Why:    "SPEC Definitions: a heartbeat that starts a session starts it at ts − played_ms, so the audio it reports lies inside the session",
		Events: hcList(hcHB("a1", "a", 70000, 45000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(25, 0, 35, 1), HearingPerSec: hcSecs(25, 0, 35, 1),
				PlayedMS: 35000},
			1: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(10, 1, 50, 0),
				PlayedMS: 10000},
			2: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(10, 1, 50, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: join 10000, hb 15000 p10000 (begins 5000, before the join), hb 25000 p10000 [15000,25000),
	// leave 30000. Taken by where they begin: hb@15000 (5000) starts the session at 5000, the join
	// (10000) finds it live: counted, continues it; session [5000, 30000).
	// minute 0: connected s5..29 (25 s); audio [5000, 25000) = 20000, hearing s5..24; joins 1,
	// leaves 1; no start failure (audio begins at the start).
	{
		Name: "heartbeat audio beginning before the join: session starts at the audio",
		Why:  "metrics.md Sessions: events sorted by where they begin (ts − played_ms for heartbeats); a join inside a live session is counted and continues it",
		Events: hcList(
			hcJoin("a1", "a", 10000), hcHB("a2", "a", 15000, 10000), hcHB("a3", "a", 25000, 10000),
			hcLeave("a4", "a", 30000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(5, 0, 25, 1, 30, 0), HearingPerSec: hcSecs(5, 0, 20, 1, 35, 0),
				Joins: 1, Leaves: 1, PlayedMS: 20000},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: join 0; hb 10000 p10000 [0,10000); hb 30000 p10000 [20000,30000); hb 32000 p15000
	// [17000,32000) — begins before the previous event's ts (30000); leave 40000.
	// Begin order: join 0, hb@10000 (0), hb@32000 (17000), hb@30000 (20000), leave 40000: one session [0, 40000).
	// hb@30000 begins at 20000, before the previous event's ts 32000: trimmed to [32000, 30000),
	// nothing; its 10000 are cut (minute 0).
	// minute 0: played 10000+15000 = 25000, trimmed 10000; per-second hearing is the
	// union [0,10000) ∪ [17000,32000): s0..9 and s17..31 (15 s) — [20000,30000) not counted twice.
	// connected s0..39; joins 1, leaves 1.
	{
		Name: "heartbeat whose audio begins before the previous event's ts",
		Why:  "metrics.md Sessions (order by where events begin) and Per minute: overlaps are trimmed, peak hearing uses the union of intervals",
		Events: hcList(
			hcJoin("a1", "a", 0),
			hcHB("a2", "a", 10000, 10000), hcHB("a3", "a", 30000, 10000), hcHB("a4", "a", 32000, 15000),
			hcLeave("a5", "a", 40000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(40, 1, 20, 0), HearingPerSec: hcSecs(10, 1, 7, 0, 15, 1, 28, 0),
				Joins: 1, Leaves: 1, PlayedMS: 25000, TrimmedMS: 10000},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: join 0 (last 0); hb 70000 p10000 begins at 60000 = last + 60000 → no live session: the
	// first session [0, 60000) ends by timeout at 60000 (minute 1); the heartbeat starts a new session
	// [60000, 130000) (last 70000 → timeout at 130000, minute 2).
	// Session 1: no play/audio in [0, 30000) → start failure in minute(30000) = 0. Session 2 starts
	// with audio → none.
	// minute 0: connected all 60 s; joins 1; start failures 1.
	// minute 1: connected all 60 s (session 2); timeouts 1 (session 1); audio [60000,70000) 10000, s0..9.
	// minute 2: connected s0..9; timeouts 1 (session 2).
	{
		Name:   "event beginning exactly at last + 60 s starts a new session",
		Why:    "metrics.md Sessions: an event that begins at or after last + 60 s starts a new session; continuity uses where a heartbeat begins (ts − played_ms)",
		Events: hcList(hcJoin("a1", "a", 0), hcHB("a2", "a", 70000, 10000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(60, 1),
				Joins: 1, StartFailures: 1},
			1: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(10, 1, 50, 0),
				Timeouts: 1, PlayedMS: 10000},
			2: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(10, 1, 50, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: join 0; hb 70000 p10001 begins at 59999 < 0 + 60000 → continues the session; one session
	// [0, 130000) (last 70000), one timeout at 130000 (minute 2), none in minute 1.
	// Start failure: the heartbeat begins at 59999, not within [0, 30000) → counted in minute 0.
	// minute 0: audio [59999, 60000) = 1 ms → played 1, not hearing; 59.5 < 59.999 → no hearing second.
	// minute 1: audio [60000, 70000) = 10000 → hearing, s0..9.
	{
		Name:   "event beginning 1 ms before last + 60 s continues the session",
		Why:    "metrics.md Sessions: live on [start, last + 60 s); a heartbeat begins at ts − played_ms",
		Events: hcList(hcJoin("a1", "a", 0), hcHB("a2", "a", 70000, 10001)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(60, 0),
				Joins: 1, StartFailures: 1, PlayedMS: 1},
			1: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(10, 1, 50, 0),
				PlayedMS: 10000},
			2: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(10, 1, 50, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: join 0, join 60000 (= last + 60000): session 1 [0, 60000) times out at 60000 (minute 1);
	//   session 2 [60000, 120000) times out at 120000 (minute 2). Start failures: session 1 in
	//   minute(30000) = 0, session 2 in minute(90000) = 1.
	// b: join 0, join 59999 (< 60000): one session [0, 119999) (last 59999), timeout at 119999
	//   (minute 1); start failure in minute 0. Second 119 (119.5 < 119.999) still connected.
	// minute 0: connected 2 (all 60 s = 2); joins 3 (a@0, b@0, b@59999); start failures 2.
	// minute 1: connected 2 (all 60 s = 2); joins 1 (a@60000); start failures 1 (a's 2nd); timeouts 2
	//   (a's 1st at 60000, b at 119999).
	// minute 2: timeouts 1 (a's 2nd at 120000); connected 0 (a's session ends at 120000).
	{
		Name: "join at exactly last + 60 s starts a new session, 1 ms earlier continues",
		Why:  "metrics.md Sessions: an event that begins at or after last + 60 s starts a new session; a join inside a live session is counted and continues it; Per minute: start failures at start + 30 s",
		Events: hcList(
			hcJoin("a1", "a", 0), hcJoin("a2", "a", 60000),
			hcJoin("b1", "b", 0), hcJoin("b2", "b", 59999),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 2, PeakConcurrent: 2, ConnectedPerSec: hcSecs(60, 2),
				Joins: 3, StartFailures: 2},
			1: {Connected: 2, PeakConcurrent: 2, ConnectedPerSec: hcSecs(60, 2),
				Joins: 1, StartFailures: 1, Timeouts: 2},
			2: {Timeouts: 1},
		},
		Cume: &specCume{Connected: 2},
	},

	// ---------------------------------------------------------------- errors, leaves, joins

	// a: error 30000 "network" only. An error alone starts no session: not connected, no timeout.
	// minute 0: errors 1, errors_by_code {network: 1}; nothing else.
	{
		Name:   "error event alone: counted, no session",
		Why:    "SPEC Definitions: an error event alone starts no session; metrics.md Per minute: errors by code include an error without a session",
		Events: hcList(hcErr("a1", "a", 30000, "network")),
		Minutes: map[int]specMinute{
			0: {Errors: 1, ErrorsByCode: map[string]int{"network": 1}},
		},
		Cume: &specCume{},
	},

	// a: join 0; error 50000 "decode" (inside the live session: extends it, last = 50000);
	// error 120000 "network" begins at/after 50000 + 60000 = 110000 → no live session: counted only.
	// Session [0, 110000), timeout at 110000 (minute 1). Start failure (no play/audio) in minute 0.
	// minute 0: connected all 60 s; joins 1; errors 1 {decode: 1}; start failures 1.
	// minute 1: connected s0..49 (109.5 < 110); timeouts 1.
	// minute 2: errors 1 {network: 1}; connected 0.
	{
		Name: "error inside a session extends it; error after the timeout starts nothing",
		Why:  "metrics.md Sessions: inside a live session an error is an event like any other (last = its ts); an error alone starts no session",
		Events: hcList(
			hcJoin("a1", "a", 0), hcErr("a2", "a", 50000, "decode"), hcErr("a3", "a", 120000, "network"),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(60, 1),
				Joins: 1, Errors: 1, StartFailures: 1, ErrorsByCode: map[string]int{"decode": 1}},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(50, 1, 10, 0), Timeouts: 1},
			2: {Errors: 1, ErrorsByCode: map[string]int{"network": 1}},
		},
		Cume: &specCume{Connected: 1},
	},

	// a: leave 30000 only → counted, changes nothing (no session, not connected).
	// b: join 0, play 0, leave 10000 (ends the session [0, 10000)), leave 20000 (no live session:
	//   counted, changes nothing).
	// minute 0: connected 1 (b, s0..9); joins 1, plays 1, leaves 3 (a, b, b).
	{
		Name: "leave without a session is counted and changes nothing",
		Why:  "metrics.md Sessions: a leave without a live session is counted and changes nothing; Per minute: leaves include a leave without a session",
		Events: hcList(
			hcLeave("a1", "a", 30000),
			hcJoin("b1", "b", 0), hcPlay("b2", "b", 0), hcLeave("b3", "b", 10000), hcLeave("b4", "b", 20000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(10, 1, 50, 0),
				Joins: 1, Plays: 1, Leaves: 3},
		},
		Cume: &specCume{Connected: 1},
	},

	// a: join 0, leave 60000: the session [0, 60000) already ended by timeout at 0 + 60000 when the
	//   leave begins → timeout 1 in minute 1, and the leave is a leave without a session (minute 1).
	//   Start failure in minute(30000) = 0.
	// b: join 0, leave 59999: the leave ends the session [0, 59999); no timeout. Start failure (no
	//   play; ends at 59999, not before 30000) in minute 0. s59: 59.5 < 59.999 → connected.
	// minute 0: connected 2, all 60 s = 2; joins 2; leaves 1 (b); start failures 2.
	// minute 1: leaves 1 (a), timeouts 1 (a); connected 0.
	{
		Name: "leave at exactly last + 60 s comes after the timeout; 1 ms earlier it ends the session",
		Why:  "metrics.md Sessions: live on [start, last + 60 s), ends at the first leave or at last + 60 s, whichever comes first; a leave without a live session is counted and changes nothing",
		Events: hcList(
			hcJoin("a1", "a", 0), hcLeave("a2", "a", 60000),
			hcJoin("b1", "b", 0), hcLeave("b2", "b", 59999),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 2, PeakConcurrent: 2, ConnectedPerSec: hcSecs(60, 2),
				Joins: 2, Leaves: 1, StartFailures: 2},
			1: {Leaves: 1, Timeouts: 1},
		},
		Cume: &specCume{Connected: 2},
	},

	// a: join 0, play 0, join 50000 (live: counted, continues; last 50000), join 100000 (begins
	// before 110000: continues; last 100000), leave 150000 (before 160000: ends). One session [0, 150000).
	// minute 0: connected all 60 s; joins 2; plays 1. minute 1: connected all; joins 1.
	// minute 2: connected s0..29 (149.5 < 150); leaves 1. No start failure (play at start).
	{
		Name: "second join inside a live session: counted, continues it",
		Why:  "metrics.md Sessions: a join inside a live session is counted and continues it",
		Events: hcList(
			hcJoin("a1", "a", 0), hcPlay("a2", "a", 0), hcJoin("a3", "a", 50000), hcJoin("a4", "a", 100000),
			hcLeave("a5", "a", 150000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(60, 1), Joins: 2, Plays: 1},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(60, 1), Joins: 1},
			2: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(30, 1, 30, 0), Leaves: 1},
		},
		Cume: &specCume{Connected: 1},
	},

	// a: hb 10000 p10000 (starts session 1 at 0), hb 20000 p10000, then leave 25000 and join 25000
	// at the same ms. A session was live before 25000 → the leave comes first: session 1 [0, 25000)
	// ends; the join starts session 2 at 25000. hb 80000 p10000 begins 70000 < 25000 + 60000 →
	// continues session 2 (last 80000) → session 2 [25000, 140000), timeout at 140000 (minute 2).
	// (Had the join been taken first, session 2 would only start at 70000, with a gap s25..69.)
	// Start failure: session 1 starts with audio → none; session 2: no play, no audio beginning in
	// [25000, 55000) (the heartbeat begins at 70000) → 1, in minute(55000) = 0.
	// minute 0: connected all 60 s (once per second); hearing [0,20000) s0..19, 20000; joins 1, leaves 1.
	// minute 1: connected all; audio [70000, 80000) → s10..19, 10000.
	// minute 2: connected s0..19 (139.5 < 140); timeouts 1.
	{
		Name: "leave and rejoin at the same ms while live: two sessions, counted once per second",
		Why:  "metrics.md Sessions, Same instant: the leave comes first if a session was live before that instant (leave and rejoin)",
		Events: hcList(
			hcHB("a1", "a", 10000, 10000), hcHB("a2", "a", 20000, 10000),
			hcLeave("a3", "a", 25000), hcJoin("a4", "a", 25000),
			hcHB("a5", "a", 80000, 10000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(20, 1, 40, 0),
				Joins: 1, Leaves: 1, StartFailures: 1, PlayedMS: 20000},
			1: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(10, 0, 10, 1, 40, 0),
				PlayedMS: 10000},
			2: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(20, 1, 40, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: join 30000 and leave 30000, no session before → the leave comes last: a session
	// [30000, 30000) that begins and ends at once: connected in minute 0, in no second (peak 0).
	// It ends (30000) before start + 30 s without a play → start failure in minute(end) = 0.
	{
		Name:   "join and leave at the same ms without a session: zero-length session",
		Why:    "metrics.md Sessions, Same instant: the leave comes last if no session was live (connected in that minute, in no second); Per minute: start failure in the minute of the end when the session ends sooner",
		Events: hcList(hcJoin("a1", "a", 30000), hcLeave("a2", "a", 30000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 0, ConnectedPerSec: hcSecs(60, 0), HearingPerSec: hcSecs(60, 0),
				Joins: 1, Leaves: 1, StartFailures: 1},
		},
		Cume: &specCume{Connected: 1},
	},

	// a: join 10200, leave 10400 → session [10200, 10400): holds no instant s + 0.5 → connected in
	//   minute 0, at no second.
	// b: join 10400, leave 10600 → session [10400, 10600) holds 10.5 → counted at s10.
	// Both end before start + 30 s without a play → start failures 2, minute(end) = 0.
	// minute 0: connected 2, peak 1 (s10 only); joins 2, leaves 2.
	{
		Name: "sub-second sessions: connected in the minute, per second only at s + 0.5",
		Why:  "metrics.md Per minute: connected = sessions overlapping the minute; peak: a listener counts at s when s + 0.5 s lies in a session",
		Events: hcList(
			hcJoin("a1", "a", 10200), hcLeave("a2", "a", 10400),
			hcJoin("b1", "b", 10400), hcLeave("b2", "b", 10600),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 2, PeakConcurrent: 1, ConnectedPerSec: hcSecs(10, 0, 1, 1, 49, 0),
				Joins: 2, Leaves: 2, StartFailures: 2},
		},
		Cume: &specCume{Connected: 2},
	},

	// a: join 0, play 0, hb 10000 p10000, hb 20000 p10000, leave 20000 (ends session 1 [0, 20000)),
	// hb 31000 p10000 begins 21000 → no live session → session 2 [21000, 101000) (last 41000 after
	// hb 41000 p10000 [31000, 41000)), timeout at 101000 (minute 1).
	// minute 0: connected s0..19 (session 1), s20 nothing (20.5: session 1 ended at 20.0, session 2
	//   begins at 21.0), s21..59 (session 2); hearing [0,20000) ∪ [21000,41000): s0..19, s21..40;
	//   played 40000; joins 1, plays 1, leaves 1. No start failure (play; audio at session 2's start).
	// minute 1: connected s0..40 (100.5 < 101); timeouts 1.
	{
		Name: "heartbeat right after a leave starts a new session",
		Why:  "metrics.md Sessions: a session ends at the first leave; a heartbeat of a listener without a live session starts one at ts − played_ms",
		Events: hcList(
			hcJoin("a1", "a", 0), hcPlay("a2", "a", 0),
			hcHB("a3", "a", 10000, 10000), hcHB("a4", "a", 20000, 10000), hcLeave("a5", "a", 20000),
			hcHB("a6", "a", 31000, 10000), hcHB("a7", "a", 41000, 10000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(20, 1, 1, 0, 39, 1), HearingPerSec: hcSecs(20, 1, 1, 0, 20, 1, 19, 0),
				Joins: 1, Plays: 1, Leaves: 1, PlayedMS: 40000},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(41, 1, 19, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a: as above but the next heartbeat begins exactly at the leave: hb 30000 p10000 [20000, 30000).
	// Both begin at 20000; by ts the leave (20000) comes before the heartbeat (30000): session 1
	// [0, 20000), session 2 [20000, 100000) (last 40000 after hb 40000 p10000). Back to back, so the
	// listener counts 1 at every second of minute 0 — never 2.
	// minute 0: hearing [0, 40000) s0..39, played 40000; joins 1, plays 1, leaves 1.
	// minute 1: connected s0..39 (99.5 < 100); timeouts 1.
	{
		Name: "heartbeat beginning at the leave's ms: adjacent sessions, counted once per second",
		Why:  "metrics.md Sessions (order by begin, then ts) and Per minute: a listener counts once at a second however its sessions overlap",
		Events: hcList(
			hcJoin("a1", "a", 0), hcPlay("a2", "a", 0),
			hcHB("a3", "a", 10000, 10000), hcHB("a4", "a", 20000, 10000), hcLeave("a5", "a", 20000),
			hcHB("a6", "a", 30000, 10000), hcHB("a7", "a", 40000, 10000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(40, 1, 20, 0),
				Joins: 1, Plays: 1, Leaves: 1, PlayedMS: 40000},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(40, 1, 20, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// ---------------------------------------------------------------- start failures

	// a: join 40000, play 69999 (= start + 29999, within 30 s), leave 80000. Session [40000, 80000).
	// minute 0: connected s40..59; joins 1. minute 1: connected s0..19 (79.5 < 80); plays 1,
	// leaves 1; start failures 0.
	{
		Name:   "start failure: play at start + 29 999 → none",
		Why:    "SPEC Definitions: start failures = joined but no play within 30 s; metrics.md Per minute: start failures",
		Events: hcList(hcJoin("a1", "a", 40000), hcPlay("a2", "a", 69999), hcLeave("a3", "a", 80000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(40, 0, 20, 1), Joins: 1},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(20, 1, 40, 0), Plays: 1, Leaves: 1},
		},
		Cume: &specCume{Connected: 1},
	},

	// a: join 40000, play 70000 (= start + 30000: not within 30 s), leave 80000.
	// Start failure counted in minute(40000 + 30000) = minute 1 (not minute 0, where the join is).
	{
		Name:   "start failure: play at start + 30 000 → failure in the minute of start + 30 s",
		Why:    "metrics.md Per minute: start failures = no play within 30 s of the start, counted in the minute of start + 30 s",
		Events: hcList(hcJoin("a1", "a", 40000), hcPlay("a2", "a", 70000), hcLeave("a3", "a", 80000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(40, 0, 20, 1), Joins: 1},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(20, 1, 40, 0),
				Plays: 1, Leaves: 1, StartFailures: 1},
		},
		Cume: &specCume{Connected: 1},
	},

	// a: join 40000, leave 55000: the session [40000, 55000) ends before start + 30 s (70000) with no
	// play → start failure counted in minute(55000) = 0 (not minute(70000) = 1). No minute-1 row.
	// minute 0: connected s40..54 (54.5 < 55); joins 1, leaves 1, start failures 1.
	{
		Name:   "start failure: session ends before 30 s without play → minute of the end",
		Why:    "metrics.md Per minute: start failures counted in the minute of start + 30 s, or of the session's end when it ends sooner",
		Events: hcList(hcJoin("a1", "a", 40000), hcLeave("a2", "a", 55000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(40, 0, 15, 1, 5, 0),
				Joins: 1, Leaves: 1, StartFailures: 1},
		},
		Cume: &specCume{Connected: 1},
	},

	// All join at 40000 and leave at 90000; start + 30 s = 70000. No play events.
	// a: hb 79999 p10000 MUTED → begins 69999 < 70000 → rendered audio within 30 s → no failure.
	// b: hb 80000 p10000 MUTED → begins 70000 → not within → failure, minute(70000) = 1.
	// c: hb 79999 p10000 unmuted → begins 69999 → no failure; audio [69999, 79999) all in minute 1
	//   = 10000 → hearing; seconds s10..19 (69.5 < 69.999 so s9 not; 79.5 < 79.999 so s19 yes).
	// minute 0: connected 3, s40..59 = 3; joins 3.
	// minute 1: connected 3, s0..29 = 3 (89.5 < 90); leaves 3; start failures 1 (b);
	//   muted 10000 (a) + 10000 (b) = 20000; played 10000 (c); hearing 1.
	{
		Name: "start failure: heartbeat audio (muted or not) beginning within 30 s excuses it",
		Why:  "metrics.md Per minute: start failures = sessions without a play or rendered audio (a heartbeat with played_ms > 0, muted or not, that begins) within 30 s of their start",
		Events: hcList(
			hcJoin("a1", "a", 40000), hcMutedHB("a2", "a", 79999, 10000), hcLeave("a3", "a", 90000),
			hcJoin("b1", "b", 40000), hcMutedHB("b2", "b", 80000, 10000), hcLeave("b3", "b", 90000),
			hcJoin("c1", "c", 40000), hcHB("c2", "c", 79999, 10000), hcLeave("c3", "c", 90000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 3, PeakConcurrent: 3, ConnectedPerSec: hcSecs(40, 0, 20, 3), Joins: 3},
			1: {Connected: 3, Hearing: 1, PeakConcurrent: 3, PeakHearing: 1,
				ConnectedPerSec: hcSecs(30, 3, 30, 0), HearingPerSec: hcSecs(10, 0, 10, 1, 40, 0),
				Leaves: 3, StartFailures: 1, PlayedMS: 10000, MutedMS: 20000},
		},
		Cume: &specCume{Connected: 3, Hearing: 1},
	},

	// a (buffering): join 0; hb 10000, 20000, 30000, 40000 with played 0 and stalled 10000 each;
	// hb 50000 p2000 stalled 8000 [48000, 50000); hb 60000 p7000 stalled 3000 [53000, 60000);
	// hb 70000 p10000 [60000, 70000); leave 71000. Session [0, 71000).
	// Start failure: heartbeats with played 0 render nothing; the first audio begins at 48000 ≥ 30000,
	// no play → 1, in minute(30000) = 0.
	// stalled_ms by the heartbeat's ts: minute 0: 4 × 10000 + 8000 = 48000; minute 1: 3000 (the hb at
	//   60000, though its stall lay in minute 0).
	// minute 0: played 2000 + 7000 = 9000 → hearing; seconds s48, s49, s53..59.
	// minute 1: played 10000, s0..9; connected s0..10 (70.5 < 71); leaves 1.
	{
		Name: "stalled_ms at the heartbeat's minute; played 0 heartbeats are no rendered audio",
		Why:  "metrics.md Per minute: stalled_ms of heartbeats whose ts lies in the minute; start failures need a heartbeat with played_ms > 0",
		Events: hcList(
			hcJoin("a1", "a", 0),
			hcBeats("a", "a", 10000, 40000, 0, 10000),
			hcStallHB("a5", "a", 50000, 2000, 8000), hcStallHB("a6", "a", 60000, 7000, 3000),
			hcHB("a7", "a", 70000, 10000),
			hcLeave("a8", "a", 71000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(48, 0, 2, 1, 3, 0, 7, 1),
				Joins: 1, StartFailures: 1, PlayedMS: 9000, StalledMS: 48000},
			1: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(11, 1, 49, 0), HearingPerSec: hcSecs(10, 1, 50, 0),
				Leaves: 1, PlayedMS: 10000, StalledMS: 3000},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// ---------------------------------------------------------------- qualified

	// a: join 0; hb 10000..60000 (6 × p10000) → running sum 60000 exactly at the hb with ts 60000
	//   → qualified in minute(60000) = 1, although all the audio [0, 60000) lies in minute 0; leave 61000.
	// b: join 0; hb 10000..50000 (5 × p10000), hb 60000 p9999 [50001, 60000) → 59999 → not qualified;
	//   leave 61000.
	// minute 0: connected 2, hearing 2 (all 60 s: b's s50 is 50.5 ≥ 50.001); played 60000 + 59999 =
	//   119999; joins 2.
	// minute 1: connected 2 at s0 only (60.5 < 61); leaves 2; qualified 1 (a), 1 session.
	{
		Name: "qualified at exactly 60 000 ms (minute of that heartbeat's ts) vs 59 999",
		Why:  "SPEC Definitions: qualified = session accumulated ≥ 60 s of unmuted audio; metrics.md Per minute: counted at the heartbeat whose ts reaches it",
		Events: hcList(
			hcJoin("a1", "a", 0), hcBeats("a", "a", 10000, 60000, 10000, 0), hcLeave("a2", "a", 61000),
			hcJoin("b1", "b", 0), hcBeats("b", "b", 10000, 50000, 10000, 0), hcHB("b2", "b", 60000, 9999),
			hcLeave("b3", "b", 61000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 2, Hearing: 2, PeakConcurrent: 2, PeakHearing: 2,
				ConnectedPerSec: hcSecs(60, 2), HearingPerSec: hcSecs(60, 2),
				Joins: 2, PlayedMS: 119999},
			1: {Connected: 2, Qualified: 1, QualifiedSessions: 1, PeakConcurrent: 2,
				ConnectedPerSec: hcSecs(1, 2, 59, 0), HearingPerSec: hcSecs(60, 0),
				Leaves: 2},
		},
		Cume: &specCume{Connected: 2, Hearing: 2, Qualified: 1},
	},

	// a: session 1: join 0, hb 10000..40000 (4 × p10000 → [0, 40000)), leave 41000;
	//    session 2: join 50000, hb 60000..90000 (4 × p10000 → [50000, 90000)), leave 91000.
	//    40000 + 40000 = 80000 in the stream but 40000 per session → not qualified.
	// b: join 0, hb 10000..70000 (7 × p10000) all MUTED → 70000 muted ms → not qualified, not hearing; leave 71000.
	// minute 0: a connected s0..40 (40.5 < 41) and s50..59; b s0..59 → s0..40 = 2, s41..49 = 1, s50..59 = 2.
	//   a's audio [0,40000) + [50000,60000) = 50000 → hearing s0..39, s50..59; b muted [0, 60000) = 60000.
	//   joins 3 (a@0, a@50000, b@0), leaves 1 (a@41000). No start failures (audio at each start).
	// minute 1: a [60000, 91000) → s0..30; b [60000, 71000) → s0..10 → s0..10 = 2, s11..30 = 1, s31.. = 0.
	//   a's audio [60000, 90000) = 30000, s0..29; b muted [60000, 70000) = 10000; leaves 2.
	{
		Name: "two sessions of 40 s are not qualified; muted audio does not qualify",
		Why:  "SPEC Definitions: qualified = a session accumulated ≥ 60 s of unmuted audio; metrics.md Per minute: qualified sums one session's unmuted heartbeats",
		Events: hcList(
			hcJoin("a1", "a", 0), hcBeats("a", "a", 10000, 40000, 10000, 0), hcLeave("a2", "a", 41000),
			hcJoin("a3", "a", 50000), hcBeats("a", "a", 60000, 90000, 10000, 0), hcLeave("a4", "a", 91000),
			hcJoin("b1", "b", 0), hcMuted(hcBeats("b", "b", 10000, 70000, 10000, 0)), hcLeave("b2", "b", 71000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 2, Hearing: 1, PeakConcurrent: 2, PeakHearing: 1,
				ConnectedPerSec: hcSecs(41, 2, 9, 1, 10, 2), HearingPerSec: hcSecs(40, 1, 10, 0, 10, 1),
				Joins: 3, Leaves: 1, PlayedMS: 50000, MutedMS: 60000},
			1: {Connected: 2, Hearing: 1, PeakConcurrent: 2, PeakHearing: 1,
				ConnectedPerSec: hcSecs(11, 2, 20, 1, 29, 0), HearingPerSec: hcSecs(30, 1, 30, 0),
				Leaves: 2, PlayedMS: 30000, MutedMS: 10000},
		},
		Cume: &specCume{Connected: 2, Hearing: 1},
	},

	// a: join 0; hb A ts 50000 p50000 [0, 50000); hb B ts 130000 p75000 [55000, 130000);
	// hb C ts 70000 p10000 [60000, 70000). Begin order: join, A (0), B (55000), C (60000); B begins
	// 55000 < 50000 + 60000, C < 130000 + 60000 → one session [0, 190000) (last 130000).
	// Qualified: running sum in that order: A 50000, B 125000 ≥ 60000 → at B, ts 130000 → minute 2.
	// (In ts order, A + C = 60000 would reach it at ts 70000, minute 1: this case pins "in the order above".)
	// minute 0: audio A 50000 + B [55000,60000) 5000 = 55000; hearing s0..49, s55..59.
	// C begins at 60000, before the previous event's ts (B, 130000): trimmed to nothing, 10000 cut.
	// minute 1: B [60000,120000) 60000, trimmed 10000 (C's ts); hearing every second (once).
	// minute 2: B [120000,130000) 10000, s0..9; qualified 1. minute 3: connected s0..9; timeouts 1.
	{
		Name: "qualified is reached in begin order, at the heartbeat's ts",
		Why:  "metrics.md Per minute: qualified = sum of the session's heartbeats' played_ms in the order above (by where they begin), at a heartbeat whose ts lies in the minute",
		Events: hcList(
			hcJoin("a1", "a", 0),
			hcHB("a2", "a", 50000, 50000), hcHB("a3", "a", 130000, 75000), hcHB("a4", "a", 70000, 10000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(50, 1, 5, 0, 5, 1),
				Joins: 1, PlayedMS: 55000},
			1: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(60, 1), PlayedMS: 60000, TrimmedMS: 10000},
			2: {Connected: 1, Hearing: 1, Qualified: 1, QualifiedSessions: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(10, 1, 50, 0), PlayedMS: 10000},
			3: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(10, 1, 50, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1, Hearing: 1, Qualified: 1},
	},

	// ---------------------------------------------------------------- AQH (quarter hours)

	// a: hb 10000..300000 (30 × p10000) → [0, 300000) = 300000 ms in quarter 0 → AQH.
	// b: hb 10000..290000 (29 × p10000) + hb 300000 p9999 [290001, 300000) → 299999 ms → not AQH.
	// Both sessions [0, 360000) (start at the first heartbeat's audio, 0; last 300000), timeouts at
	// 360000 → minute 6 (no overlap with minute 6).
	// minutes 0..3: both hear 60000 → played 120000; minute 4: 60000 + 59999 = 119999 (b's s50 is
	//   290.5 ≥ 290.001: heard every second); minute 5 (the hb at ts 300000 lies here, its audio in
	//   minute 4): connected 2, no audio.
	// qualified: each reaches 60000 at its 6th heartbeat, ts 60000 → minute 1: 2 listeners, 2 sessions.
	// quarter 0: 1 AQH person (a).
	{
		Name: "AQH: exactly 300 000 ms in the quarter hour vs 299 999",
		Why:  "SPEC Definitions: AQH persons = listeners with ≥ 5 minutes of unmuted audio inside the clock quarter hour; metrics.md Over a range",
		Events: hcList(
			hcBeats("a", "a", 10000, 300000, 10000, 0),
			hcBeats("b", "b", 10000, 290000, 10000, 0), hcHB("b300000", "b", 300000, 9999),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 2, Hearing: 2, PeakConcurrent: 2, PeakHearing: 2, PlayedMS: 120000},
			1: {Connected: 2, Hearing: 2, Qualified: 2, QualifiedSessions: 2, PeakConcurrent: 2, PeakHearing: 2, PlayedMS: 120000},
			2: {Connected: 2, Hearing: 2, PeakConcurrent: 2, PeakHearing: 2, PlayedMS: 120000},
			3: {Connected: 2, Hearing: 2, PeakConcurrent: 2, PeakHearing: 2, PlayedMS: 120000},
			4: {Connected: 2, Hearing: 2, PeakConcurrent: 2, PeakHearing: 2,
				ConnectedPerSec: hcSecs(60, 2), HearingPerSec: hcSecs(60, 2), PlayedMS: 119999},
			5: {Connected: 2, PeakConcurrent: 2, ConnectedPerSec: hcSecs(60, 2), HearingPerSec: hcSecs(60, 0)},
			6: {Timeouts: 2},
		},
		Quarters: map[int]int{0: 1},
		Cume:     &specCume{Connected: 2, Hearing: 2, Qualified: 2},
	},

	// Quarter 0 = [0, 900000) (minutes 0..14), quarter 1 = [900000, 1800000) (minutes 15..29).
	// a: hb 610000..1200000 (60 × p10000) → [600000, 1200000): 300000 in q0, 300000 in q1 → AQH in both.
	//    Session [600000, 1260000) (timeout 1260000, minute 21). Qualified at its 6th hb, ts 660000 (minute 11).
	// c: hb 620000..1210000 (60 × p10000) → [610000, 1210000): 290000 in q0 (no), 310000 in q1 (yes).
	//    Session [610000, 1270000) (timeout 1270000, minute 21). Qualified at ts 670000 (minute 11).
	// b: session 1: hb 910000..1080000 (18 × p10000) → [900000, 1080000) 180000, leave 1085000;
	//    session 2: join 1100000, hb 1110000..1220000 (12 × p10000) → [1100000, 1220000) 120000,
	//    leave 1225000. Two sessions, 300000 in q1 → AQH in q1 (across sessions).
	//    Qualified: session 1 at ts 960000 (minute 16), session 2 at ts 1160000 (minute 19).
	// Minute rows (a, c: 60000 ms per full minute; b as above):
	//   10 [600000,660000): a full; c from 610000 → s10..59; played 60000 + 50000 = 110000.
	//   11: qualified a, c (2 sessions); 11..14: 2 connected, 2 hearing, 120000.
	//   15..17: a, b, c full → 180000; 16: qualified b (session 1).
	//   18 [1080000,1140000): b connected s0..4 ([1080000,1085000)) and s20..59 (from 1100000), heard
	//      s20..59 (40000); played 60000 + 60000 + 40000 = 160000; joins 1, leaves 1 (both b).
	//   19: 180000; qualified b (session 2).
	//   20 [1200000,1260000): a connected (no audio: its last audio ended at 1200000); b [1200000,
	//      1225000) s0..24, audio [1200000,1220000) 20000 s0..19; c connected, audio [1200000,1210000)
	//      10000 s0..9 → hearing 2 (b, c), played 30000; leaves 1 (b).
	//   21: c [1260000, 1270000) s0..9; timeouts 2 (a at 1260000, c at 1270000).
	// Quarters: q0 = {a} → 1; q1 = {a, b, c} → 3.
	{
		Name: "AQH across a quarter boundary and across two sessions",
		Why:  "SPEC Definitions: AQH per clock quarter hour (audio split by overlap); metrics.md Over a range: ≥ 5 min of unmuted audio inside it (across their sessions); qualified is per session",
		Events: hcList(
			hcBeats("a", "a", 610000, 1200000, 10000, 0),
			hcBeats("c", "c", 620000, 1210000, 10000, 0),
			hcBeats("b", "b", 910000, 1080000, 10000, 0), hcLeave("b1", "b", 1085000),
			hcJoin("b2", "b", 1100000), hcBeats("b", "b", 1110000, 1220000, 10000, 0), hcLeave("b3", "b", 1225000),
		),
		Minutes: map[int]specMinute{
			10: {Connected: 2, Hearing: 2, PeakConcurrent: 2, PeakHearing: 2,
				ConnectedPerSec: hcSecs(10, 1, 50, 2), HearingPerSec: hcSecs(10, 1, 50, 2), PlayedMS: 110000},
			11: {Connected: 2, Hearing: 2, Qualified: 2, QualifiedSessions: 2, PeakConcurrent: 2, PeakHearing: 2, PlayedMS: 120000},
			12: {Connected: 2, Hearing: 2, PeakConcurrent: 2, PeakHearing: 2, PlayedMS: 120000},
			13: {Connected: 2, Hearing: 2, PeakConcurrent: 2, PeakHearing: 2, PlayedMS: 120000},
			14: {Connected: 2, Hearing: 2, PeakConcurrent: 2, PeakHearing: 2, PlayedMS: 120000},
			15: {Connected: 3, Hearing: 3, PeakConcurrent: 3, PeakHearing: 3, PlayedMS: 180000},
			16: {Connected: 3, Hearing: 3, Qualified: 1, QualifiedSessions: 1, PeakConcurrent: 3, PeakHearing: 3, PlayedMS: 180000},
			17: {Connected: 3, Hearing: 3, PeakConcurrent: 3, PeakHearing: 3, PlayedMS: 180000},
			18: {Connected: 3, Hearing: 3, PeakConcurrent: 3, PeakHearing: 3,
				ConnectedPerSec: hcSecs(5, 3, 15, 2, 40, 3), HearingPerSec: hcSecs(20, 2, 40, 3),
				Joins: 1, Leaves: 1, PlayedMS: 160000},
			19: {Connected: 3, Hearing: 3, Qualified: 1, QualifiedSessions: 1, PeakConcurrent: 3, PeakHearing: 3, PlayedMS: 180000},
			20: {Connected: 3, Hearing: 2, PeakConcurrent: 3, PeakHearing: 2,
				ConnectedPerSec: hcSecs(25, 3, 35, 2), HearingPerSec: hcSecs(10, 2, 10, 1, 40, 0),
				Leaves: 1, PlayedMS: 30000},
			21: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(10, 1, 50, 0), Timeouts: 2},
		},
		Quarters: map[int]int{0: 1, 1: 3},
		Cume:     &specCume{Connected: 3, Hearing: 3, Qualified: 3},
	},

	// ---------------------------------------------------------------- displayed

	// Displayed counters only (no listener): minute 0: 500 @1000, 1200 @30000, 900 @50000 → max 1200,
	// last 900 (latest ts). minute 1: 2000 @65000, 1100 @70000 (id d4), 1000 @70000 (id d5) → max 2000,
	// last: latest ts 70000 holds 1100 and 1000 → the larger, 1100 (not the larger id's 1000).
	// minute 3: 0 @200000 → a row with HasDisplayed, max 0, last 0. Minute 2: nothing → no row.
	// No listener → connected 0 everywhere; cume 0.
	{
		Name: "displayed: max and last per minute, equal ts → the larger",
		Why:  "SPEC Definitions: displayed = the platform's own counter (max and last within the window); metrics.md Per minute: last = latest ts, the largest among equal ts",
		Events: hcList(
			hcDisp("d1", 1000, 500), hcDisp("d2", 30000, 1200), hcDisp("d3", 50000, 900),
			hcDisp("d4", 70000, 1100), hcDisp("d5", 70000, 1000), hcDisp("d6", 65000, 2000),
			hcDisp("d7", 200000, 0),
		),
		Minutes: map[int]specMinute{
			0: {HasDisplayed: true, DisplayedMax: 1200, DisplayedLast: 900},
			1: {HasDisplayed: true, DisplayedMax: 2000, DisplayedLast: 1100},
			3: {HasDisplayed: true, DisplayedMax: 0, DisplayedLast: 0},
		},
		Cume: &specCume{},
	},

	// ---------------------------------------------------------------- duplicates

	// Every event appears 2 or 3 times (same id, same fields). Distinct events:
	// a: join 0, play 0, hb 10000 p10000, hb 20000 p10000 stalled 500, error 25000 "network",
	// leave 30000; displayed 7 @40000.
	// Session [0, 30000). minute 0: connected s0..29; audio [0, 20000) → s0..19, played 20000;
	// stalled 500; joins 1, plays 1, leaves 1, errors 1 {network: 1}; displayed max 7, last 7.
	// Identical to the same events without copies.
	{
		Name: "duplicates: copies of every event count once",
		Why:  "SPEC Time, late events and duplicates: events with the same (stream_id, listener_id, event_id) count once; Determinism: a function of the set of distinct events",
		Events: hcList(
			hcTimes(2, hcJoin("a1", "a", 0)), hcTimes(3, hcPlay("a2", "a", 0)),
			hcTimes(2, hcHB("a3", "a", 10000, 10000)), hcTimes(3, hcStallHB("a4", "a", 20000, 10000, 500)),
			hcTimes(2, hcErr("a5", "a", 25000, "network")), hcTimes(2, hcLeave("a6", "a", 30000)),
			hcTimes(3, hcDisp("d1", 40000, 7)),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(30, 1, 30, 0), HearingPerSec: hcSecs(20, 1, 40, 0),
				Joins: 1, Leaves: 1, Plays: 1, Errors: 1, ErrorsByCode: map[string]int{"network": 1},
				PlayedMS: 20000, StalledMS: 500, HasDisplayed: true, DisplayedMax: 7, DisplayedLast: 7},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// Copies of a two-device session, 3 × each heartbeat: the two-device case above with every
	// heartbeat tripled must give exactly its figures (played 60000 / 5000, trimmed 45000 / 10000 —
	// copies are not overlaps; qualified once, at ts 60000).
	{
		Name: "duplicates: tripled heartbeats of two devices count once",
		Why:  "SPEC Time, late events and duplicates: copies count once; metrics.md Sessions: Duplicates",
		Events: hcList(
			hcJoin("a1", "a", 0),
			hcBeats("d1-", "a", 10000, 60000, 10000, 0), hcBeats("d1-", "a", 10000, 60000, 10000, 0),
			hcBeats("d1-", "a", 10000, 60000, 10000, 0),
			hcBeats("d2-", "a", 15000, 65000, 10000, 0), hcBeats("d2-", "a", 15000, 65000, 10000, 0),
			hcBeats("d2-", "a", 15000, 65000, 10000, 0),
			hcLeave("a2", "a", 66000), hcLeave("a2", "a", 66000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(60, 1),
				Joins: 1, PlayedMS: 60000, TrimmedMS: 45000},
			1: {Connected: 1, Hearing: 1, Qualified: 1, QualifiedSessions: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(6, 1, 54, 0), HearingPerSec: hcSecs(5, 1, 55, 0),
				Leaves: 1, PlayedMS: 5000, TrimmedMS: 10000},
		},
		Cume: &specCume{Connected: 1, Hearing: 1, Qualified: 1},
	},

	// a: two heartbeats with the same fields (ts 10000, played 10000) but different ids a1, a2 →
	// two distinct events, not copies: the second covers what the first reported, so it is trimmed
	// (played 10000, trimmed 10000 in minute 0); per-second hearing s0..9 once; session [0, 15000)
	// ended by leave 15000 → connected s0..14; leaves 1.
	{
		Name:   "same fields, different event ids: two events, not copies",
		Why:    "SPEC Time, late events and duplicates: copies are identified by (stream_id, listener_id, event_id), not by content; metrics.md Per minute: overlaps are trimmed and counted",
		Events: hcList(hcHB("a1", "a", 10000, 10000), hcHB("a2", "a", 10000, 10000), hcLeave("a3", "a", 15000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(15, 1, 45, 0), HearingPerSec: hcSecs(10, 1, 50, 0),
				Leaves: 1, PlayedMS: 10000, TrimmedMS: 10000},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},

	// a and b use the same event ids (x1 join 0, x2 hb 10000 p10000, x3 leave 20000): the key is
	// (stream_id, listener_id, event_id), so these are 6 distinct events, none a copy.
	// minute 0: connected 2, s0..19 = 2; hearing 2, s0..9 = 2; joins 2, leaves 2; played 20000.
	{
		Name: "same event id on two listeners: not copies",
		Why:  "SPEC Time, late events and duplicates: duplicates are events with the same (stream_id, listener_id, event_id)",
		Events: hcList(
			hcJoin("x1", "a", 0), hcHB("x2", "a", 10000, 10000), hcLeave("x3", "a", 20000),
			hcJoin("x1", "b", 0), hcHB("x2", "b", 10000, 10000), hcLeave("x3", "b", 20000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 2, Hearing: 2, PeakConcurrent: 2, PeakHearing: 2,
				ConnectedPerSec: hcSecs(20, 2, 40, 0), HearingPerSec: hcSecs(10, 2, 50, 0),
				Joins: 2, Leaves: 2, PlayedMS: 20000},
		},
		Cume: &specCume{Connected: 2, Hearing: 2},
	},

	// ---------------------------------------------------------------- the 2024 night in miniature

	// Three listeners join in minute 0; the audio starts late (minute 2) for a and b; c never hears.
	// Heartbeats every 10 s; while waiting they report played 0 and stalled 10000.
	// a: join 0; hb 10000..120000 (12 × p0 st10000); play 120000; hb 130000..240000 (12 × p10000)
	//    → audio [120000, 240000); leave 241000. Session [0, 241000).
	// b: join 5000; hb 15000..125000 (12 × p0 st10000); play 125000; hb 135000..235000 (11 × p10000)
	//    → audio [125000, 235000); vanishes → session [5000, 295000), timeout 295000 (minute 4).
	// c: join 10000; hb 20000..170000 (16 × p0 st10000); errors 30000 network, 90000 network,
	//    150000 decode; leave 171000. Session [10000, 171000).
	// Start failures: none renders audio or plays within 30 s → 3, at minute(30000), minute(35000),
	//   minute(40000) = 0.
	// minute 0: per second a s0.., b s5.., c s10.. → 5×1, 5×2, 50×3; stalled a 10000..50000 (5) +
	//   b 15000..55000 (5) + c 20000..50000 (4) = 14 × 10000 = 140000; errors 1 (network); joins 3.
	//   connected − hearing = 3 − 0 = 3.
	// minute 1: 3 connected all 60 s; stalled a 60000..110000 (6) + b 65000..115000 (6) + c 60000..110000
	//   (6) = 180000; errors 1 (network). connected − hearing = 3.
	// minute 2: connected 3: c until 171000 → s0..50 (170.5 < 171) = 3, s51..59 = 2. Audio a [120000,
	//   180000) 60000 (s0..59), b [125000, 180000) 55000 (s5..59) → played 115000, hearing 2;
	//   plays 2; stalled a@120000 + b@125000 + c 120000..170000 (6) = 8 × 10000 = 80000; errors 1
	//   (decode); leaves 1 (c). connected − hearing = 1.
	// minute 3: a [180000, 240000) 60000, b [180000, 235000) 55000 → 115000; hearing s0..54 = 2,
	//   s55..59 = 1 (a); qualified: a's 6th audio hb at ts 180000, b's at 185000 → 2 (2 sessions).
	//   connected − hearing = 0.
	// minute 4: a [240000, 241000) s0; b [240000, 295000) s0..54 → 1×2, 54×1, 5×0; leaves 1 (a);
	//   timeouts 1 (b at 295000); no audio. connected − hearing = 2.
	{
		Name: "late start: three join, two hear from minute 2, one never (errors)",
		Why:  "SPEC (motivating case) and Definitions: connected − hearing is the audience that joined but could not hear; start failures; stalled_ms; errors by code",
		Events: hcList(
			hcJoin("a1", "a", 0), hcBeats("a", "a", 10000, 120000, 0, 10000), hcPlay("a2", "a", 120000),
			hcBeats("a", "a", 130000, 240000, 10000, 0), hcLeave("a3", "a", 241000),
			hcJoin("b1", "b", 5000), hcBeats("b", "b", 15000, 125000, 0, 10000), hcPlay("b2", "b", 125000),
			hcBeats("b", "b", 135000, 235000, 10000, 0),
			hcJoin("c1", "c", 10000), hcBeats("c", "c", 20000, 170000, 0, 10000),
			hcErr("c2", "c", 30000, "network"), hcErr("c3", "c", 90000, "network"), hcErr("c4", "c", 150000, "decode"),
			hcLeave("c5", "c", 171000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 3, PeakConcurrent: 3,
				ConnectedPerSec: hcSecs(5, 1, 5, 2, 50, 3), HearingPerSec: hcSecs(60, 0),
				Joins: 3, Errors: 1, ErrorsByCode: map[string]int{"network": 1}, StartFailures: 3,
				StalledMS: 140000},
			1: {Connected: 3, PeakConcurrent: 3, ConnectedPerSec: hcSecs(60, 3), HearingPerSec: hcSecs(60, 0),
				Errors: 1, ErrorsByCode: map[string]int{"network": 1}, StalledMS: 180000},
			2: {Connected: 3, Hearing: 2, PeakConcurrent: 3, PeakHearing: 2,
				ConnectedPerSec: hcSecs(51, 3, 9, 2), HearingPerSec: hcSecs(5, 1, 55, 2),
				Leaves: 1, Plays: 2, Errors: 1, ErrorsByCode: map[string]int{"decode": 1},
				PlayedMS: 115000, StalledMS: 80000},
			3: {Connected: 2, Hearing: 2, Qualified: 2, QualifiedSessions: 2, PeakConcurrent: 2, PeakHearing: 2,
				ConnectedPerSec: hcSecs(60, 2), HearingPerSec: hcSecs(55, 2, 5, 1),
				PlayedMS: 115000},
			4: {Connected: 2, PeakConcurrent: 2,
				ConnectedPerSec: hcSecs(1, 2, 54, 1, 5, 0), HearingPerSec: hcSecs(60, 0),
				Leaves: 1, Timeouts: 1},
		},
		Cume: &specCume{Connected: 3, Hearing: 2, Qualified: 2},
	},

	// ---------------------------------------------------------------- more edges

	// a: session 1: hb 60000 p60000 [0, 60000) → reaches 60000 at ts 60000 → qualified in minute 1;
	//    leave 61000 → session 1 [0, 61000).
	//    session 2: hb 100000 p39000 [61000, 100000) begins at the leave's ms; by ts the leave (61000)
	//    comes first → new session at 61000; a second device's hb 110000 p40000 [70000, 110000)
	//    begins before the previous ts 100000: trimmed to [100000, 110000), 30000 cut; session 2's
	//    audio 39000 + 10000 = 49000 < 60000: not qualified (without the trim the overlap would
	//    have qualified it); leave 111000.
	// minute 0: connected, heard every second; played 60000.
	// minute 1: connected [60000, 111000) → s0..50 (110.5 < 111); audio 49000, trimmed 30000, union
	//   [61000, 110000) → s1..49; leaves 2; qualified set {a} = 1 (session 1, at ts 60000),
	//   qualified sessions 1.
	{
		Name: "a second device's overlapping audio does not qualify a session",
		Why:  "metrics.md Per minute: qualified counts sessions whose unmuted audio reaches 60 s; overlaps are trimmed, not counted twice",
		Events: hcList(
			hcHB("a1", "a", 60000, 60000), hcLeave("a2", "a", 61000),
			hcHB("a3", "a", 100000, 39000), hcHB("a4", "a", 110000, 40000), hcLeave("a5", "a", 111000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(60, 1), HearingPerSec: hcSecs(60, 1), PlayedMS: 60000},
			1: {Connected: 1, Hearing: 1, Qualified: 1, QualifiedSessions: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(51, 1, 9, 0), HearingPerSec: hcSecs(1, 0, 49, 1, 10, 0),
				Leaves: 2, PlayedMS: 49000, TrimmedMS: 30000},
		},
		Cume: &specCume{Connected: 1, Hearing: 1, Qualified: 1},
	},

	// a: one heartbeat at 20000 with played 0 (stalled 5000): it starts a session at 20000 (begin =
	// ts) but renders nothing → start failure at minute(50000) = 0. Session [20000, 80000), timeout
	// at 80000 (minute 1). stalled 5000 in minute 0. No audio, not hearing.
	{
		Name:   "heartbeat with played 0 starts a session but is no rendered audio",
		Why:    "SPEC Definitions: a session starts at the first heartbeat; metrics.md Per minute: start failures need a play or a heartbeat with played_ms > 0",
		Events: hcList(hcStallHB("a1", "a", 20000, 0, 5000)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(20, 0, 40, 1),
				StartFailures: 1, StalledMS: 5000},
			1: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(20, 1, 40, 0), Timeouts: 1},
		},
		Cume: &specCume{Connected: 1},
	},

	// a: join 10500, play 10500, leave 11500 → session [10500, 11500): the instant 10.5 is its first
	// instant (included), 11.5 its end (excluded) → connected at s10 only. No start failure (play at
	// start). minute 0: joins 1, plays 1, leaves 1.
	{
		Name:   "session bounds on s + 0.5 instants: start included, end excluded",
		Why:    "metrics.md Sessions: live on [start, …) half-open; Per minute: a listener counts at s when s + 0.5 s lies in a session",
		Events: hcList(hcJoin("a1", "a", 10500), hcPlay("a2", "a", 10500), hcLeave("a3", "a", 11500)),
		Minutes: map[int]specMinute{
			0: {Connected: 1, PeakConcurrent: 1, ConnectedPerSec: hcSecs(10, 0, 1, 1, 49, 0),
				Joins: 1, Plays: 1, Leaves: 1},
		},
		Cume: &specCume{Connected: 1},
	},

	// Listener a: join and play at 0, heartbeat at 10000 (p 10000), then a heartbeat with played 0
	// and a leave, both at 20000. metrics.md Sessions, Same instant: a session is live before
	// 20000, so the events that continue it (the heartbeat) come first, then the leave: one session
	// [0, 20000) — the player's last beat and its leave, not a new session.
	// minute 0: connected s0..19 (20000 excluded); audio [0, 10000) s0..9; joins 1, plays 1,
	// leaves 1; no start failure (play at 0); played 10000. No minute-1 row.
	{
		Name: "last heartbeat and leave at the same ms while live: the beat, then the leave",
		Why:  "metrics.md Sessions, Same instant: with a live session, play/heartbeat/error come first, then the leave",
		Events: hcList(
			hcJoin("a1", "a", 0), hcPlay("a2", "a", 0), hcHB("a3", "a", 10000, 10000),
			hcHB("a4", "a", 20000, 0), hcLeave("a5", "a", 20000),
		),
		Minutes: map[int]specMinute{
			0: {Connected: 1, Hearing: 1, PeakConcurrent: 1, PeakHearing: 1,
				ConnectedPerSec: hcSecs(20, 1, 40, 0), HearingPerSec: hcSecs(10, 1, 50, 0),
				Joins: 1, Plays: 1, Leaves: 1, PlayedMS: 10000},
		},
		Cume: &specCume{Connected: 1, Hearing: 1},
	},
}
