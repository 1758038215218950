package session

// Review of the heartbeat trimming, authenticated listeners, earlier forgetting of live streams
// (commits since bb1fef7). Each test failed on the code it was written against; T1–T3 and T5
// were rewritten for the fix (unmuted audio cut at audEnd; format-2 checkpoints refused).

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// T1. Trimming must keep the hearing accumulators' invariant (rules.go, lstate): the heartbeat
// that reached audEnd began at or before pos, so every minute strictly between minute(pos) and
// minute(audEnd−1) is covered whole by unmuted audio. Unmuted audio is therefore cut at audEnd
// (the end of the unmuted audio reported), never at a muted heartbeat's ts.
//
// a: a muted heartbeat at 179 s reporting 179 s ([0, 179 s)), then an unmuted one at 200 s
// reporting 190 s ([10 s, 200 s)). The unmuted one overlaps no unmuted audio: nothing is cut.
// Unmuted: minute 0 50 s, minutes 1 and 2 60 s, minute 3 20 s — hearing in all four. Muted:
// minute 0 60 s, minute 1 60 s, minute 2 59 s.
func TestReview2TrimmedAfterMutedHearsAMinuteWithOneSecond(t *testing.T) {
	f := final(t, ev1("a", "hb@179/179000m", "hb@200/190000"))
	want := []struct{ played, muted, trimmed uint64 }{{50_000, 60_000, 0}, {60_000, 60_000, 0}, {60_000, 59_000, 0}, {20_000, 0, 0}}
	for m, w := range want {
		r := f.at(t, m)
		if r.PlayedMS != w.played || r.MutedMS != w.muted || r.PlayedTrimmedMS != w.trimmed || r.Hearing.Value != 1 {
			t.Errorf("minute %d: played %d muted %d trimmed %d hearing %v; want %d, %d, %d, 1",
				m, r.PlayedMS, r.MutedMS, r.PlayedTrimmedMS, r.Hearing.Value, w.played, w.muted, w.trimmed)
		}
	}
}

// T2. A later session's heartbeat is cut at audEnd too, whichever session reported that audio.
//
// a: muted [0, 179 s) (begins 0), unmuted [10 s, 200 s) (begins 10 s), leave at 70 s, join at
// 75 s, unmuted heartbeat at 80 s reporting 5 s ([75 s, 80 s)). In begin order the unmuted
// [10, 200) is applied first (audEnd 200 s); the heartbeat at 80 s lies inside it: cut whole
// (5 000 ms trimmed in minute 1). Minute 1: played 60 000 (from [10, 200)), hearing.
func TestReview2TrimmedAfterMutedHidesLaterHearing(t *testing.T) {
	f := final(t, ev1("a", "hb@179/179000m", "hb@200/190000", "leave@70", "join@75", "hb@80/5000"))
	m1 := f.at(t, 1)
	if m1.PlayedMS != 60_000 || m1.PlayedTrimmedMS != 5_000 || m1.Hearing.Value != 1 {
		t.Fatalf("minute 1: played %d trimmed %d hearing %v; want 60000, 5000, 1", m1.PlayedMS, m1.PlayedTrimmedMS, m1.Hearing.Value)
	}
}

// T3. And the figures do not depend on the delivery: a re-derivation after a fold seeds the
// hearing bits from the fold state (deriv.seed), which trusts the same invariant. Live stream,
// 30-min horizon. a: muted [0, 179 s), unmuted [10 s, 200 s), heartbeats on to 300 s, and an error
// at 65 s. When the error arrives 29 min 57 s late — after minute 0 became final and a's log
// folded to 1:00 — a is re-derived from the fold state: the rows equal the in-order ones.
func TestReview2TrimmedHearingDependsOnDelivery(t *testing.T) {
	evs := ev1("a", "hb@179/179000m", "hb@200/190000", "hb@210/10000", "hb@220/10000", "hb@230/10000",
		"hb@240/10000", "hb@250/10000", "hb@260/10000", "hb@270/10000", "hb@280/10000", "hb@290/10000",
		"hb@300/10000", "err@65:network")
	var recs []event.Record
	for _, e := range evs {
		recs = append(recs, e.record("live", 0, 0))
	}
	cfg := DefaultConfig()
	until := specT0 + 300_000 + cfg.Horizon.Milliseconds() + 5*60_000
	inOrder, _ := deliver(t, cfg, at(recs, func(*event.Record) int64 { return 0 }), nil, until, nil, 0)
	late, p := deliver(t, cfg, at(recs, func(r *event.Record) int64 {
		if r.Type == event.TypeError {
			return 29*60_000 + 57_000
		}
		return 0
	}), nil, until, nil, 0)
	if p.Dropped["too_late"] != 0 {
		t.Fatalf("the late error was too late: %v", p.Dropped)
	}
	k := fmt.Sprintf("live/%d/%x", specT0+window.MinuteMS, listenerKey("a"))
	if inOrder.listeners[k]&window.FlagHearing == 0 {
		t.Errorf("in order: a not hearing in minute 1, which [10 s, 200 s) covers (flags %04b)", inOrder.listeners[k])
	}
	if diff := inOrder.diff(late); diff != "" {
		t.Errorf("rows differ between in order and the error 30 min late:\n%s", diff)
	}
}

// T4. Forgetting a silent live stream (stream.go collect, liveForgetAfter) depends on the
// delivery: the silence is measured from the newest *receipt* (s.lastArrival), and a live event
// may be received up to the horizon after its time. What the forgotten stream carried — the
// listeners' first ticket (s.auth) — is lost, so the rows after the silence differ.
//
// Live stream, horizon 30 min (forgotten after 75 min of silence). a: authenticated join at 0,
// heartbeat at 10 s, leave at 20 s; 90 minutes later, unauthenticated join, heartbeat, leave. In
// order the stream is silent 89.7 min and forgotten: a is not authenticated at 90 min. With the
// leave at 20 s received 20 min late (inside the horizon) the silence is 69.7 min, the stream is
// kept and a is authenticated at 90 min. Same events, different rows.
func TestReview2ForgettingLiveStreamDependsOnDelivery(t *testing.T) {
	recs := silentThenBack()
	cfg := DefaultConfig()
	until := specT0 + 5420_000 + cfg.Horizon.Milliseconds() + 5*60_000
	inOrder, _ := deliver(t, cfg, at(recs, func(*event.Record) int64 { return 0 }), nil, until, nil, 0)
	late, _ := deliver(t, cfg, at(recs, func(r *event.Record) int64 {
		if r.Type == event.TypeLeave && r.EventTime == specT0+20_000 {
			return 20 * 60_000
		}
		return 0
	}), nil, until, nil, 0)
	k := fmt.Sprintf("live/%d/%x", specT0+90*window.MinuteMS, listenerKey("a"))
	t.Logf("minute 90: in order %04b, leave late %04b", inOrder.listeners[k], late.listeners[k])
	if diff := inOrder.diff(late); diff != "" {
		t.Errorf("rows differ between in order and the first leave 20 min late:\n%s", diff)
	}
}

// T5. Trimming changed what a derivation contributes: a partition state of the release before
// (checkpoint format 2, untrimmed contributions; testdata/review2_pretrim.checkpoint, written by
// bb1fef7) would take back, on its first re-derivation, trimmed amounts that were never added.
// It is refused (ErrOldCheckpoint: reset the group's checkpoints and replay), never restored.
func TestReview2PreTrimCheckpointTakesBackWhatWasNeverAdded(t *testing.T) {
	data, err := os.ReadFile("testdata/review2_pretrim.checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(DefaultConfig(), data); !errors.Is(err, ErrOldCheckpoint) {
		t.Fatalf("restoring a format-2 checkpoint: %v, want ErrOldCheckpoint", err)
	}
}

// T6 (low). The authenticated flag is taken from whichever copy of an event is applied first:
// event() returns on a copy before authenticate, so a copy that carries a valid ticket after one
// that did not (listener_auth optional: a retry sent once the player had its ticket, or the same
// event through an exempt and a ticketed token) is ignored. The flag depends on arrival order.
func TestReview2AuthenticatedCopyAfterPlainCopyIgnored(t *testing.T) {
	evs := ev1("a", "join@0", "hb@10/10000", "hb@20/10000", "leave@25")
	var recs []event.Record
	for _, e := range evs {
		recs = append(recs, e.record("live", 0, 0))
	}
	authed := recs[1]
	authed.Flags |= event.FlagAuthenticated
	cfg := DefaultConfig()
	until := specT0 + 25_000 + cfg.Horizon.Milliseconds() + 5*60_000
	// The plain copy of the heartbeat at 10 s arrives at once, the ticketed one 30 s later; and
	// the other way round.
	plainFirst := append(at(recs, func(*event.Record) int64 { return 0 }), arrival{specT0 + 40_000, authed})
	ticketFirst := append(at(append([]event.Record{authed}, recs[0], recs[2], recs[3]), func(*event.Record) int64 { return 0 }),
		arrival{specT0 + 40_000, recs[1]})
	a, _ := deliver(t, cfg, plainFirst, nil, until, nil, 0)
	b, _ := deliver(t, cfg, ticketFirst, nil, until, nil, 0)
	if diff := b.diff(a); diff != "" {
		t.Errorf("rows differ between the ticketed copy first and the plain copy first:\n%s", diff)
	}
}

// T7. A live stream made anew (forgotten after its silence, or simply new in this partition)
// takes its first record's too-late test against a clock that is not set yet: add() checks
// `begins < s.clock(ingest) − horizon` while s.live is still false and s.data 0, and finalTo
// is the event's own time − horizon; only then does advance() move the stream to the ingest
// clock. An event that begins more than the horizon before the ingest clock — too late for a
// stream that is kept — is applied, partly into final minutes (bug_final_minute), partly into
// open ones.
//
// a: join 0, heartbeat 10 s, leave 20 s. At ingest 90 min a heartbeat dated 60.5 min reporting
// 60 s (begins 59.5 min < 90 − 30 min; a player that buffered its events for 29.5 min, with
// sent_at) arrives. In order the stream was silent 89.7 min and forgotten; with the leave
// received 20 min late it was silent 69.7 min and kept, and the heartbeat is too late.
func TestReview2RecreatedLiveStreamAppliesTooLateEvent(t *testing.T) {
	evs := ev1("a", "join@0", "hb@10/10000", "leave@20", "hb@3630/60000")
	var recs []event.Record
	for _, e := range evs {
		recs = append(recs, e.record("live", 0, 0))
	}
	cfg := DefaultConfig()
	until := specT0 + 90*60_000 + cfg.Horizon.Milliseconds() + 5*60_000
	delay := func(leaveLate int64) func(*event.Record) int64 {
		return func(r *event.Record) int64 {
			switch r.EventTime - specT0 {
			case 3630_000:
				return 90*60_000 - 3630_000 // received at 90 min
			case 20_000:
				return leaveLate
			}
			return 0
		}
	}
	for _, c := range []struct {
		name      string
		leaveLate int64
	}{{"leave late (kept)", 20 * 60_000}, {"in order (forgotten)", 0}} {
		t.Run(c.name, func(t *testing.T) {
			_, p := deliver(t, cfg, at(recs, delay(c.leaveLate)), nil, until, nil, 0)
			if p.Dropped["too_late"] != 1 {
				t.Errorf("dropped %v; want the heartbeat too late, as the kept stream has it", p.Dropped)
			}
		})
	}
}

// T8. liveForgetAfter's safety argument ("any event for the stream begins after its final
// minutes") holds for collector-timed events only. A trusted-time event (a backfill from server
// logs, a replay — time.md: such tokens keep ts as sent, however old) for a live stream that
// has been quiet for 75 min creates a fresh trusted stream whose clock is that event's time: its
// rows replace the live stream's final rows (same key, higher version). Kept (as it was for a
// week before this change), the stream counts the backfilled event too_late — the same as
// review test 6 (TestReviewForgottenClosedStreamRewritesFinalRows) for closed streams.
func TestReview2ForgottenLiveStreamFinalRowsRewrittenByBackfill(t *testing.T) {
	p := New(DefaultConfig(), 0)
	r := newRows()
	var recs []event.Record
	for _, e := range ev1("a", "join@0", "play@1", "hb@10/9000", "hb@20/10000", "hb@30/10000", "leave@35") {
		recs = append(recs, e.record("live", specT0+e.TS, 0))
	}
	for s := int64(0); s <= 40; s++ {
		reviewFeed(t, p, r, tickAt(specT0+s*1000))
		for i := range recs {
			if recs[i].EventTime == specT0+s*1000 {
				reviewFeed(t, p, r, recs[i])
			}
		}
	}
	for m := int64(1); m <= 80; m++ { // other streams keep ingest moving
		reviewFeed(t, p, r, tickAt(specT0+m*60_000))
	}
	want := r.minutes[fmt.Sprintf("live/%d", specT0)]
	if !want.Final || want.PlayedMS != 29_000 {
		t.Fatalf("setup: minute 0 %s", brief(want))
	}
	// A backfill of another listener's heartbeat in minute 0, from a trusted_time token.
	bf := ev1("b", "hb@40/10000")[0].record("live", specT0+80*60_000, event.FlagTrustedTime)
	reviewFeed(t, p, r, bf) // take() fails here if a final minute row changes
	for m := int64(81); m <= 160; m++ {
		reviewFeed(t, p, r, tickAt(specT0+m*60_000))
	}
	if got := r.minutes[fmt.Sprintf("live/%d", specT0)]; got.PlayedMS != want.PlayedMS || got.Connected != want.Connected {
		t.Fatalf("the final row of minute 0 was replaced:\n  was %s\n  now %s", brief(want), brief(got))
	}
}

// A stream forgotten early lives on as a tombstone in the checkpoint: restored after every
// record, the T4 stream gives the rows of the uninterrupted run (its first ticket included).
func TestTombstonesSurviveRestore(t *testing.T) {
	recs := silentThenBack()
	cfg := DefaultConfig()
	until := specT0 + 5420_000 + cfg.Horizon.Milliseconds() + 5*60_000
	plain, _ := deliver(t, cfg, at(recs, func(*event.Record) int64 { return 0 }), nil, until, nil, 0)
	restored, _ := deliverRestoring(t, cfg, at(recs, func(*event.Record) int64 { return 0 }), nil, until, nil, 0, 1)
	if diff := plain.diff(restored); diff != "" {
		t.Errorf("rows differ when restored after every record:\n%s", diff)
	}
	k := fmt.Sprintf("live/%d/%x", specT0+90*window.MinuteMS, listenerKey("a"))
	if plain.listeners[k]&window.FlagAuthenticated == 0 {
		t.Errorf("minute 90: flags %04b, want a still authenticated after the stream was forgotten", plain.listeners[k])
	}
}

// silentThenBack is T4's live stream: a authenticated at its join at 0, a session to 20 s, then
// 90 minutes of silence and a session from 90 min, unauthenticated.
func silentThenBack() []event.Record {
	var recs []event.Record
	for _, e := range ev1("a", "join@0", "hb@10/10000", "leave@20", "join@5400", "hb@5410/10000", "leave@5420") {
		r := e.record("live", 0, 0)
		if e.TS == 0 {
			r.Flags |= event.FlagAuthenticated
		}
		recs = append(recs, r)
	}
	return recs
}
