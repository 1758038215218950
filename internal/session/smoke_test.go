package session

import (
	"fmt"
	"testing"
)

func TestSmokeDeliveriesAgree(t *testing.T) {
	var evs []specEvent
	for l := range 5 {
		id := fmt.Sprintf("l%d", l)
		j := int64(l) * 7000
		evs = append(evs, specEvent{ID: id + "j", Type: "join", Listener: id, TS: j})
		evs = append(evs, specEvent{ID: id + "p", Type: "play", Listener: id, TS: j + 1000})
		for k := int64(1); k <= 20; k++ {
			evs = append(evs, specEvent{ID: fmt.Sprintf("%sh%d", id, k), Type: "heartbeat", Listener: id, TS: j + k*10000, Played: 10000 - 1000*b64(k == 1)})
		}
		if l%2 == 0 {
			evs = append(evs, specEvent{ID: id + "l", Type: "leave", Listener: id, TS: j + 205000})
		}
	}
	recs := trusted("s", evs)
	var want *rows
	for _, d := range deliveries(recs, 1) {
		p := New(DefaultConfig(), 0)
		got := feed(t, p, d.recs, "s")
		if want == nil {
			want = got
			for k, m := range got.minutes {
				t.Logf("%s %s", k, brief(m))
			}
			continue
		}
		if diff := want.diff(got); diff != "" {
			t.Errorf("%s differs from in order:\n%s", d.name, diff)
		}
	}
}

func b64(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
