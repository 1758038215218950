package session

import (
	"fmt"
	"testing"

	"github.com/earshot/earshot/pkg/event"
	"github.com/earshot/earshot/pkg/window"
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
