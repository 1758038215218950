package sqlpeer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/session"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/pkg/event"
)

// The simulator's listeners are well behaved: one join, beats every 10 s, one leave or none.
// The SPEC covers more — sessions opened by a heartbeat, rejoins, a leave and a join at the
// same millisecond, timeouts that fall exactly on an event, heartbeats reaching back over
// earlier audio, errors outside sessions — and the aggregator's machine (internal/session) is
// its reference. TestMachine feeds the same adversarial events to that machine and to the SQL
// and compares every minute.

// adversarial returns events of listeners who do everything at random, on a coarse time grid
// so that events often share an instant.
func adversarial(seed uint64, stream string, listeners int) []client.Event {
	r := rand.New(rand.NewPCG(seed, 99))
	base := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC).UnixMilli()
	var out []client.Event
	for l := range listeners {
		lid := fmt.Sprintf("l%03d", l)
		t := base + r.Int64N(120)*1000
		n := 1 + r.IntN(30)
		emit := func(typ string, at int64) {
			e := client.Event{EventID: fmt.Sprintf("%s-%d", lid, len(out)), Type: typ, StreamID: stream, ListenerID: lid, TS: at}
			if typ == "heartbeat" {
				played := []int64{0, 500, 1999, 2000, 2500, 10_000, 10_000, 10_000, 30_000, 59_500, 65_000, 600_000}[r.IntN(12)]
				e.PlayedMS = client.Int(min(played, at-base))
				e.Muted = r.IntN(5) == 0
			}
			out = append(out, e)
			if r.IntN(10) == 0 { // a copy
				out = append(out, e)
			}
		}
		for range n {
			switch x := r.IntN(20); {
			case x < 3: // the same instant
			case x < 15:
				t += r.Int64N(21) * 1000
			case x < 17: // near the timeout, exactly on it included
				t += 55_000 + r.Int64N(11)*1000
			case x < 18:
				t += 500 + r.Int64N(10)*250
			default: // a gap the session times out in
				t += 61_000 + r.Int64N(300)*1000
			}
			switch x := r.IntN(20); {
			case x < 3:
				emit("join", t)
			case x < 5:
				emit("leave", t)
			case x < 7: // leave and rejoin at once, in either order
				if r.IntN(2) == 0 {
					emit("leave", t)
					emit("join", t)
				} else {
					emit("join", t)
					emit("leave", t)
				}
			case x < 9:
				emit("play", t)
			case x < 11:
				emit("error", t)
			default:
				emit("heartbeat", t)
			}
		}
	}
	return out
}

// machineFigures runs evs through the aggregator's session machine (one partition, trusted
// time, in ts order, closed at the end) and returns its minutes and totals as sqlpeer reports
// them.
func machineFigures(t *testing.T, stream string, evs []client.Event) ([]Minute, StreamTotals) {
	t.Helper()
	recs := make([]event.Record, len(evs))
	for i := range evs {
		recs[i] = sim.Record(&evs[i], event.FlagTrustedTime)
	}
	slices.SortStableFunc(recs, func(a, b event.Record) int { return int(a.EventTime - b.EventTime) })
	p := session.New(session.DefaultConfig(), 0)
	rows := map[int64]window.MinuteRow{}
	flags := map[[2]uint64]uint8{} // (minute, listener) → newest flags
	vers := map[[2]uint64]uint64{}
	take := func() {
		o := p.TakeOutput()
		for _, m := range o.Minutes {
			row, err := m.Row(p.ID(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if row.Deleted {
				delete(rows, m.Start)
			} else {
				rows[m.Start] = row
			}
		}
		for _, l := range o.Listeners.Rows {
			k := [2]uint64{uint64(l.Minute), l.Listener}
			if l.Version >= vers[k] {
				vers[k], flags[k] = l.Version, l.Flags
			}
		}
		p.Recycle(o)
	}
	var newest int64
	for i := range recs {
		p.Add(&recs[i], int64(i))
		newest = max(newest, recs[i].EventTime)
		take()
	}
	end := event.Record{Type: event.TypeEnd, Flags: event.FlagTrustedTime, StreamID: []byte(stream), EventTime: newest, ReceivedAt: newest}
	p.Add(&end, int64(len(recs)))
	take()
	for why, n := range p.Dropped {
		t.Errorf("the machine dropped %d records: %s", n, why)
	}
	var ms []Minute
	var tot StreamTotals
	for _, k := range slices.Sorted(maps.Keys(rows)) {
		r := rows[k]
		m := Minute{Start: time.UnixMilli(k).UTC(), Connected: uint64(r.Connected.Value), Hearing: uint64(r.Hearing.Value)}
		for _, n := range r.ConnectedPerSec {
			m.PeakConcurrent = max(m.PeakConcurrent, uint64(n))
		}
		for _, n := range r.HearingPerSec {
			m.PeakConcurrentHearing = max(m.PeakConcurrentHearing, uint64(n))
		}
		if !r.Connected.Exact || !r.Hearing.Exact {
			t.Fatal("the machine's counts are estimates: use fewer listeners")
		}
		tot.PeakConcurrent = max(tot.PeakConcurrent, m.PeakConcurrent)
		tot.PeakConcurrentHearing = max(tot.PeakConcurrentHearing, m.PeakConcurrentHearing)
		if m != (Minute{Start: m.Start}) {
			ms = append(ms, m)
		}
	}
	conn, hear := map[uint64]bool{}, map[uint64]bool{}
	for k, f := range flags {
		if f&window.FlagConnected != 0 {
			conn[k[1]] = true
		}
		if f&window.FlagHearing != 0 {
			hear[k[1]] = true
		}
	}
	tot.CumeConnected, tot.CumeHearing = uint64(len(conn)), uint64(len(hear))
	return ms, tot
}

func TestMachine(t *testing.T) {
	conn := testenv.ClickHouseDB(t)
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			stream := fmt.Sprint("adversarial-", seed)
			evs := adversarial(seed, stream, 60)
			var buf bytes.Buffer
			for _, e := range evs {
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				buf.Write(append(b, '\n'))
			}
			table := load(t, conn, buf.Bytes())
			got, gotTot := query(t, conn, table, stream)
			want, wantTot := machineFigures(t, stream, evs)
			if gotTot != wantTot {
				t.Errorf("totals %+v, machine %+v", gotTot, wantTot)
			}
			gm, wm := map[time.Time]Minute{}, map[time.Time]Minute{}
			for _, m := range got {
				gm[m.Start] = m
			}
			for _, m := range want {
				wm[m.Start] = m
			}
			bad := 0
			for _, k := range slices.SortedFunc(maps.Keys(mergeKeys(gm, wm)), func(a, b time.Time) int { return a.Compare(b) }) {
				if gm[k] != wm[k] && bad < 10 {
					t.Errorf("minute %s: sql %+v, machine %+v", k.Format("15:04"), gm[k], wm[k])
					bad++
				}
			}
			t.Logf("%d events, %d minutes; totals %+v", len(evs), len(wm), wantTot)

			// A live query sees a prefix: the same as the machine given only the events so far.
			until := time.Date(2024, 8, 13, 0, 4, 0, 0, time.UTC).UnixMilli()
			var prefix []client.Event
			for _, e := range evs {
				if e.TS < until {
					prefix = append(prefix, e)
				}
			}
			live, err := MinutesUntil(context.Background(), conn, table, stream, until)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := machineFigures(t, stream, prefix); !reflect.DeepEqual(live, want) {
				t.Errorf("events before 00:04:\n sql %+v\n machine %+v", live, want)
			}
		})
	}
}

func mergeKeys(a, b map[time.Time]Minute) map[time.Time]bool {
	out := map[time.Time]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
