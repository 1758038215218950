package aggregator_test

import (
	"testing"
	"time"

	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/ticket"
)

// TestTicketedShareEndToEnd: a third of the listeners send a signed ticket with every event
// (a collector in listener_auth optional); the report's authenticated listeners are exactly
// those, out of every connected listener, and the other figures equal the truth.
func TestTicketedShareEndToEnd(t *testing.T) {
	e := newEnv(t, 2)
	st := scenario(300, 11)
	key := []byte("integration-ticket-key-0123456789abcdef")
	expiry := time.Now().Add(time.Hour)
	ticketed := map[string]bool{}
	for _, b := range st.Batches {
		for i := range b {
			ev := &b[i]
			if ev.ListenerID == "" || ev.ListenerID[len(ev.ListenerID)-1]%3 != 0 {
				continue
			}
			tk, err := ticket.Sign(key, []byte(ev.StreamID), []byte(ev.ListenerID), expiry)
			if err != nil {
				t.Fatal(err)
			}
			ev.Ticket = tk
			ticketed[ev.ListenerID] = true
		}
	}
	truth := sim.Oracle(st)
	stop := e.runAggregator()
	defer stop()
	if err := e.trySend(st, func(c *collector.Config) {
		c.ListenerAuth = collector.AuthOptional
		c.Ticket.Key = "integration-ticket-key-0123456789abcdef"
	}); err != nil {
		t.Fatal(err)
	}
	r := e.waitDone(st)
	checkAgainstTruth(t, r, truth)
	// Every listener of this scenario connects, so each ticketed one is authenticated from its
	// first event on.
	if r.Authenticated != uint64(len(ticketed)) || float64(r.Listed) != r.CumeConnected.Value {
		t.Fatalf("authenticated %d of %d; want %d of %v", r.Authenticated, r.Listed, len(ticketed), r.CumeConnected)
	}
	t.Logf("authenticated %d of %d listeners", r.Authenticated, r.Listed)
}
