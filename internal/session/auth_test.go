package session

import (
	"fmt"
	"testing"

	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// TestAuthenticatedFromTheFirstTicketOn: a listener is authenticated in the minutes whose end
// comes after its first event with a valid ticket, whatever the delivery.
//
// a: join 0, heartbeats every 10 s from 10000 to 170000 (played 10000 each), leave 175000.
// Connected and hearing in minutes 0, 1, 2; qualified at the heartbeat at 60000 (minute 1).
// With the heartbeat at 70000 authenticated: minute 0 C|H, minute 1 C|H|Q|A, minute 2 C|H|A.
// With the one at 20000 authenticated as well: minute 0 C|H|A too.
func TestAuthenticatedFromTheFirstTicketOn(t *testing.T) {
	const (
		C, H, Q, A = window.FlagConnected, window.FlagHearing, window.FlagQualified, window.FlagAuthenticated
	)
	evs := hcList(hcJoin("j", "a", 0), hcBeats("b", "a", 10000, 170000, 10000, 0), hcLeave("l", "a", 175000))
	records := func(auth ...string) []event.Record {
		var out []event.Record
		for _, e := range evs {
			r := e.record("s", 0, 0)
			for _, id := range auth {
				if e.ID == id {
					r.Flags |= event.FlagAuthenticated
				}
			}
			out = append(out, r)
		}
		return out
	}
	until := specT0 + 175000 + DefaultConfig().Horizon.Milliseconds() + 5*60_000
	cases := []struct {
		auth []string
		want [3]uint8
	}{
		{nil, [3]uint8{C | H, C | H | Q, C | H}},
		{[]string{"b70000"}, [3]uint8{C | H, C | H | Q | A, C | H | A}},
		{[]string{"b70000", "b20000"}, [3]uint8{C | H | A, C | H | Q | A, C | H | A}},
	}
	for _, c := range cases {
		recs := records(c.auth...)
		deliveries := map[string][]arrival{
			"in order": at(recs, func(*event.Record) int64 { return 0 }),
			// The authenticated events arrive 5 minutes late, after their minutes were written.
			"tickets late": at(recs, func(r *event.Record) int64 {
				if r.Flags&event.FlagAuthenticated != 0 {
					return 5 * 60_000
				}
				return 0
			}),
			// Every event twice, the second copy 3 minutes later; the others reversed in time.
			"copies": append(at(recs, func(*event.Record) int64 { return 0 }), at(recs, func(*event.Record) int64 { return 3 * 60_000 })...),
		}
		for name, as := range deliveries {
			got, _ := deliver(t, DefaultConfig(), as, nil, until, nil, 0)
			for m, want := range c.want {
				k := fmt.Sprintf("s/%d/%x", specT0+int64(m)*60_000, listenerKey("a"))
				if got.listeners[k] != want {
					t.Errorf("tickets %v, %s: minute %d flags %04b, want %04b", c.auth, name, m, got.listeners[k], want)
				}
			}
		}
	}
}

// TestAuthenticatedAcrossRebase: listener times are relative to a base that moves forward
// for a stream longer than 49 days; a listener authenticated on the first day is still
// authenticated in its sessions on the last.
func TestAuthenticatedAcrossRebase(t *testing.T) {
	p := New(DefaultConfig(), 0)
	r := newRows()
	recs := radio51Days(func(k int64) uint8 {
		if k == 0 {
			return event.FlagAuthenticated // l0's first session only
		}
		return 0
	})
	reviewFeed(t, p, r, recs...)
	const lastOfL0 = (51*24*3 - 1) / 40 * 40 // the last k with k%40 == 0
	last := specT0 + lastOfL0*20*60_000
	k := fmt.Sprintf("radio/%d/%x", window.MinuteOf(last), listenerKey("l0"))
	if f := r.listeners[k]; f&window.FlagConnected == 0 || f&window.FlagAuthenticated == 0 {
		t.Fatalf("l0 on day 50: flags %04b, want connected and authenticated", f)
	}
	k = fmt.Sprintf("radio/%d/%x", window.MinuteOf(last+20*60_000), listenerKey("l1"))
	if f := r.listeners[k]; f&window.FlagConnected == 0 || f&window.FlagAuthenticated != 0 {
		t.Fatalf("l1 on day 50: flags %04b, want connected, not authenticated", f)
	}
}
