package session

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// The harness feeds records to a Partition in some delivery, collects every row it emits, and
// keeps the newest row per key: what ClickHouse shows under FINAL.

// rows is the newest emitted state, by key.
type rows struct {
	minutes   map[string]window.MinuteRow // stream/minute
	quarters  map[string]QuarterCount     // stream/quarter
	listeners map[string]uint8            // stream/minute/listener → flags (0: no row or none)
	versions  map[string]uint64
	delivery  map[string]Delivery
	clocks    map[string]Clock
}

func newRows() *rows {
	return &rows{minutes: map[string]window.MinuteRow{}, quarters: map[string]QuarterCount{},
		listeners: map[string]uint8{}, versions: map[string]uint64{}, delivery: map[string]Delivery{}, clocks: map[string]Clock{}}
}

// noBugs fails the test if p ever hit a bug: a recovered panic or a guard that should never
// trip (they are counted, not crashed on, in production).
func noBugs(t testing.TB, p *Partition) {
	t.Helper()
	for why, n := range p.Dropped {
		if why == "panic" || strings.HasPrefix(why, "bug_") {
			t.Fatalf("%d × %s (%s)", n, why, p.LastPanic)
		}
	}
}

// take collects p's output.
func (r *rows) take(t testing.TB, p *Partition) {
	t.Helper()
	noBugs(t, p)
	o := p.TakeOutput()
	for _, m := range o.Minutes {
		row, err := m.Row(p.ID(), uint64(max(p.Offset, 0)))
		if err != nil {
			t.Fatalf("row: %v", err)
		}
		row.Version = 0
		k := fmt.Sprintf("%s/%d", m.Stream, m.Start)
		if row.Deleted {
			delete(r.minutes, k)
			continue
		}
		if old, ok := r.minutes[k]; ok && old.Final {
			t.Fatalf("minute %s changed after it was final", k)
		}
		r.minutes[k] = row
	}
	for _, q := range o.Quarters {
		k := fmt.Sprintf("%s/%d", q.Stream, q.Start)
		if old, ok := r.quarters[k]; ok && old.Final {
			t.Fatalf("quarter %s changed after it was final", k)
		}
		if q.Deleted {
			delete(r.quarters, k)
			continue
		}
		r.quarters[k] = q
	}
	for _, l := range o.Listeners.Rows {
		k := fmt.Sprintf("%s/%d/%x", o.Listeners.Streams[l.Stream], l.Minute, l.Listener)
		if l.Version <= r.versions[k] {
			t.Fatalf("listener row %s: version %d not above %d", k, l.Version, r.versions[k])
		}
		r.versions[k] = l.Version
		if l.Flags == 0 {
			delete(r.listeners, k)
		} else {
			r.listeners[k] = l.Flags
		}
	}
	for _, d := range o.Delivery {
		r.delivery[fmt.Sprintf("%s/%d", d.Stream, d.Minute)] = d
	}
	for _, c := range o.Clocks {
		r.clocks[c.Stream] = c
	}
	p.Recycle(o)
}

// diff describes how two final states differ ("" when equal), delivery counts aside.
func (r *rows) diff(o *rows) string {
	var b strings.Builder
	for _, k := range sortedKeys(r.minutes, o.minutes) {
		a, ok1 := r.minutes[k]
		c, ok2 := o.minutes[k]
		switch {
		case !ok1 || !ok2:
			fmt.Fprintf(&b, "minute %s: present %v vs %v\n", k, ok1, ok2)
		case !reflect.DeepEqual(a, c):
			fmt.Fprintf(&b, "minute %s differs:\n  %s\n  %s\n", k, brief(a), brief(c))
		}
	}
	for _, k := range sortedKeys(r.quarters, o.quarters) {
		if r.quarters[k] != o.quarters[k] {
			fmt.Fprintf(&b, "quarter %s: %+v vs %+v\n", k, r.quarters[k], o.quarters[k])
		}
	}
	for _, k := range sortedKeys(r.listeners, o.listeners) {
		if r.listeners[k] != o.listeners[k] {
			fmt.Fprintf(&b, "listener row %s: %03b vs %03b\n", k, r.listeners[k], o.listeners[k])
		}
	}
	return b.String()
}

func brief(r window.MinuteRow) string {
	return fmt.Sprintf("conn %v hear %v joins %d leaves %d to %d plays %d err %d %v fail %d played %d muted %d stalled %d qual %d disp %v/%d/%d final %v peaks %v %v",
		r.Connected.Value, r.Hearing.Value, r.Joins, r.Leaves, r.Timeouts, r.Plays, r.Errors, r.ErrorsByCode, r.StartFailures,
		r.PlayedMS, r.MutedMS, r.StalledMS, r.Qualified, r.HasDisplayed, r.DisplayedMax, r.DisplayedLast, r.Final,
		r.ConnectedPerSec, r.HearingPerSec)
}

func sortedKeys[V any](a, b map[string]V) []string {
	ks := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

// delivery is one way of sending records: their order, with copies.
type way struct {
	name string
	recs []event.Record
}

// deliveries returns ways of delivering recs (already in order) that must all end in the same
// rows: in order, reversed, shuffled, with copies, interleaved like parallel requests.
func deliveries(recs []event.Record, seed uint64) []way {
	r := rand.New(rand.NewPCG(seed, 7))
	out := []way{{"in order", slices.Clone(recs)}}
	rev := slices.Clone(recs)
	slices.Reverse(rev)
	out = append(out, way{"reversed", rev})
	for i := range 3 {
		sh := slices.Clone(recs)
		r.Shuffle(len(sh), func(a, b int) { sh[a], sh[b] = sh[b], sh[a] })
		out = append(out, way{fmt.Sprintf("shuffled %d", i), sh})
	}
	var dup []event.Record
	for _, rec := range recs {
		dup = append(dup, rec)
		for range r.IntN(3) {
			dup = append(dup, rec)
		}
	}
	r.Shuffle(len(dup), func(a, b int) {
		// Copies arrive later, not earlier: swap only forward-moving pairs at random.
		if a < b && r.IntN(2) == 0 {
			dup[a], dup[b] = dup[b], dup[a]
		}
	})
	out = append(out, way{"with copies", dup})
	// Parallel requests: two halves of the stream interleaved at random.
	h := len(recs) / 2
	a, b := recs[:h], recs[h:]
	var par []event.Record
	for len(a)+len(b) > 0 {
		if len(b) == 0 || len(a) > 0 && r.IntN(2) == 0 {
			par, a = append(par, a[0]), a[1:]
		} else {
			par, b = append(par, b[0]), b[1:]
		}
	}
	out = append(out, way{"parallel", par})
	return out
}

// feed adds recs to p, collecting rows, then closes the streams with end records.
func feed(t testing.TB, p *Partition, recs []event.Record, streams ...string) *rows {
	t.Helper()
	r := newRows()
	off := p.Offset + 1
	for i := range recs {
		p.Add(&recs[i], off)
		off++
		if i%7 == 0 {
			r.take(t, p)
		}
		if err := p.verify(); err != nil {
			t.Fatalf("after record %d (%v at %d): %v", i, recs[i].Type, recs[i].EventTime, err)
		}
	}
	r.take(t, p)
	for _, s := range streams {
		end := event.Record{Type: event.TypeEnd, Flags: event.FlagTrustedTime, StreamID: []byte(s), EventTime: newestTime(recs), ReceivedAt: maxReceived(recs)}
		p.Add(&end, off)
		off++
	}
	r.take(t, p)
	return r
}

func newestTime(recs []event.Record) int64 {
	var m int64
	for i := range recs {
		m = max(m, recs[i].EventTime)
	}
	return m
}

func maxReceived(recs []event.Record) int64 {
	var m int64
	for i := range recs {
		m = max(m, recs[i].ReceivedAt)
	}
	return m
}

// listenerKey is a listener id's key, as the collector's keyed hash would make it: any fixed
// uniform function will do.
func listenerKey(id string) uint64 {
	return event.Fingerprint([]byte("listener/"+id)) | 1
}

// trusted makes trusted-time records (imports) of specEvents in stream, received at their ts.
func trusted(stream string, evs []specEvent) []event.Record {
	out := make([]event.Record, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.record(stream, specT0+e.TS, event.FlagTrustedTime))
	}
	slices.SortStableFunc(out, func(a, b event.Record) int { return cmp.Compare(a.EventTime, b.EventTime) })
	return out
}

func (e specEvent) record(stream string, received int64, flags uint8) event.Record {
	typ, ok := event.ParseType([]byte(e.Type))
	if !ok {
		panic("bad type " + e.Type)
	}
	r := event.Record{Type: typ, Flags: flags, Fingerprint: event.Fingerprint([]byte(e.ID)), EventTime: specT0 + e.TS,
		ReceivedAt: received, PlayedMS: uint32(e.Played), StalledMS: uint32(e.Stalled), StreamID: []byte(stream),
		ErrorCode: []byte(e.Code), DisplayedCount: uint64(e.Count)}
	if e.Muted {
		r.Flags |= event.FlagMuted
	}
	if typ == event.TypeDisplayed {
		r.Listener = event.Fingerprint([]byte(stream))
	} else {
		r.Listener = listenerKey(e.Listener)
	}
	return r
}
