package sim

import (
	"cmp"
	"container/heap"
	"iter"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/earshot/earshot/pkg/client"
)

// Batch is one client request: the events it carries and when it is sent (unix ms of event
// time).
type Batch struct {
	At     int64
	Events []client.Event
}

// Generator streams a scenario's batches in send order, one request at a time: it holds the
// plans (about 100 bytes a listener) and the requests waiting to be sent late, never the whole
// stream, so a million listeners for an hour stream in a few hundred MB.
//
// Clients post every heartbeat interval what happened since their last post, grouped into
// requests of about batchListeners listeners each, as an SDK's relay or a platform's edge would
// send them. A request is sent late (LateRate, by up to LateBy) or twice (DuplicateRate, the copy
// up to DuplicateBy later) by draws in (interval, shard) order; late copies wait in a queue
// until their time.
type Generator struct {
	sc        Scenario
	plans     []Plan
	displayed []Beat
	r         *rand.Rand
	hb        int64
	shards    int
	// next is the start of the next interval to generate ([next, next+hb) is sent at next+hb);
	// last is the last event's time.
	next, last int64
	dispIdx    int
	shard      int // the next shard of the interval to make
	pending    sendQueue
	seq        int
	events     int
	buf        []client.Event
}

// batchListeners is about how many listeners' events one request carries: with a heartbeat
// each per interval, a request of a few hundred events — small enough for any collector's body
// limit, large enough that a million listeners take a few hundred requests a second.
const batchListeners = 500

// NewGenerator draws the scenario's plans and its platform counter; the events follow on
// demand (Next, All).
func NewGenerator(sc Scenario) *Generator {
	r := rand.New(rand.NewPCG(sc.Seed, 0xea75))
	g := &Generator{sc: sc, r: r, hb: max(1, sc.Heartbeat.Milliseconds())}
	g.plans = makePlans(sc, r)
	g.displayed = displayedSeries(sc, g.plans)
	g.shards = max(4, (len(g.plans)+batchListeners-1)/batchListeners)
	g.last = -1 << 62
	g.next = 1 << 62
	for i := range g.plans {
		g.last = max(g.last, g.plans[i].lastEvent())
		g.next = min(g.next, g.plans[i].Join)
	}
	if len(g.displayed) > 0 {
		g.next = min(g.next, g.displayed[0].T)
	}
	g.next -= mod(g.next, g.hb)
	return g
}

// Skeleton is the stream without its batches: the scenario, the plans and the counter, all
// the oracle needs.
func (g *Generator) Skeleton() *Stream {
	return &Stream{Scenario: g.sc, Plans: g.plans, Displayed: g.displayed}
}

// Events counts the distinct events generated so far (retried copies not counted again).
func (g *Generator) Events() int { return g.events }

// All yields every batch in send order.
func (g *Generator) All() iter.Seq[Batch] {
	return func(yield func(Batch) bool) {
		for {
			b, ok := g.Next()
			if !ok || !yield(b) {
				return
			}
		}
	}
}

// Next returns the next batch in send order; ok is false after the last.
func (g *Generator) Next() (b Batch, ok bool) {
	for {
		// Every batch still to be made is sent at the current interval's end or later, after
		// the queued ones of that time (made earlier): a queued batch up to then goes first.
		if g.pending.Len() > 0 && (g.pending[0].At <= g.next+g.hb || g.next > g.last) {
			return heap.Pop(&g.pending).(queued).Batch, true
		}
		switch {
		case g.next > g.last:
			return Batch{}, false
		case g.shard < g.shards:
			g.makeShard(g.next, g.next+g.hb, g.shard)
			g.shard++
		default:
			g.next += g.hb
			g.shard = 0
		}
	}
}

// makeShard makes one request of the interval [lo, hi), sent at hi: the events of the
// listeners of one shard (every shards-th listener), the platform's counter with shard 0.
// One request at a time, so that only the requests waiting to be sent late are held.
func (g *Generator) makeShard(lo, hi int64, shard int) {
	evs := g.buf[:0]
	if shard == 0 {
		for ; g.dispIdx < len(g.displayed) && g.displayed[g.dispIdx].T < hi; g.dispIdx++ {
			d := g.displayed[g.dispIdx]
			evs = append(evs, client.Event{EventID: "displayed-" + strconv.FormatInt(d.T, 10), Type: "displayed",
				StreamID: g.sc.StreamID, TS: d.T, DisplayedCount: client.Int(d.Played)})
		}
	}
	for i := shard; i < len(g.plans); i += g.shards {
		p := &g.plans[i]
		if p.Join >= hi || p.lastEvent() < lo {
			continue
		}
		evs = g.appendEvents(evs, p, lo, hi)
	}
	g.buf = evs
	if len(evs) == 0 {
		return
	}
	// The counter's samples lead: at equal times the platform's count is taken before that
	// instant's joins.
	slices.SortStableFunc(evs, func(a, b client.Event) int { return cmp.Compare(a.TS, b.TS) })
	batch := slices.Clone(evs)
	g.events += len(batch)
	at := hi
	if g.sc.LateRate > 0 && g.r.Float64() < g.sc.LateRate {
		at += g.r.Int64N(g.sc.LateBy.Milliseconds() + 1)
	}
	g.push(Batch{At: at, Events: batch})
	if g.r.Float64() < g.sc.DuplicateRate {
		again := at // a retry: the same events again
		if g.sc.DuplicateBy > 0 {
			again += g.r.Int64N(g.sc.DuplicateBy.Milliseconds() + 1)
		}
		g.push(Batch{At: again, Events: batch})
	}
}

// appendEvents appends p's events with times in [lo, hi): join, play, error, heartbeats,
// leave.
func (g *Generator) appendEvents(dst []client.Event, p *Plan, lo, hi int64) []client.Event {
	in := func(t int64) bool { return lo <= t && t < hi }
	add := func(kind string, t int64, e client.Event) {
		e.EventID = p.ID + "-" + kind + "-" + strconv.FormatInt(t, 10)
		e.StreamID, e.ListenerID, e.TS = g.sc.StreamID, p.ID, t
		dst = append(dst, e)
	}
	if in(p.Join) {
		add("join", p.Join, client.Event{Type: "join"})
	}
	if p.AudioStart > 0 && in(p.AudioStart) {
		add("play", p.AudioStart, client.Event{Type: "play", Muted: p.Muted})
	}
	if p.ErrorAt > 0 && in(p.ErrorAt) {
		add("error", p.ErrorAt, client.Event{Type: "error", ErrorCode: p.FailsWithErrorCode})
	}
	// The first beat at or after lo: Join + k·Every with k ≥ 1.
	k := max(1, (lo-p.Join+p.Every-1)/p.Every)
	for t := p.Join + k*p.Every; t < hi && t <= p.End; t += p.Every {
		b := p.beat(t)
		add("hb", t, client.Event{Type: "heartbeat", PlayedMS: client.Int(b.Played), Muted: p.Muted && b.Played > 0})
	}
	if p.Leaves && in(p.End) {
		add("leave", p.End, client.Event{Type: "leave"})
	}
	return dst
}

func (g *Generator) push(b Batch) {
	heap.Push(&g.pending, queued{Batch: b, seq: g.seq})
	g.seq++
}

// queued is a batch waiting for its send time; seq keeps batches sent at the same time in the
// order they were made.
type queued struct {
	Batch
	seq int
}

type sendQueue []queued

func (q sendQueue) Len() int { return len(q) }
func (q sendQueue) Less(i, j int) bool {
	if q[i].At != q[j].At {
		return q[i].At < q[j].At
	}
	return q[i].seq < q[j].seq
}
func (q sendQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *sendQueue) Push(x any)   { *q = append(*q, x.(queued)) }
func (q *sendQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
