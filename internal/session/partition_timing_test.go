package session

import (
	"cmp"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"github.com/earshot/earshot/internal/window"
	"github.com/earshot/earshot/pkg/event"
)

// t0 is a minute- and quarter-aligned start: 13 Aug 2024 00:00 UTC.
const t0 = specT0

// heartbeatStream encodes a live stream: `listeners` listeners joined at t0, each beating every
// 10 s for `beats` beats, in time order, as Kafka records of a trusted-time import.
func heartbeatStream(listeners, beats int) []event.Record {
	out := make([]event.Record, 0, listeners*(beats+1))
	key := func(i int) uint64 { // splitmix64: uniform like the collector's HMAC keys
		z := uint64(i+1) * 0x9E3779B97F4A7C15
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		return z ^ z>>31
	}
	for b := 0; b <= beats; b++ {
		for i := range listeners {
			at := t0 + int64(i%10_000) + int64(b)*10_000
			r := event.Record{Type: event.TypeHeartbeat, Flags: event.FlagTrustedTime, Listener: key(i),
				Fingerprint: uint64(i)<<20 | uint64(b), EventTime: at, ReceivedAt: at, PlayedMS: 10_000, StreamID: []byte("space-1")}
			if b == 0 {
				r.Type, r.PlayedMS = event.TypeJoin, 0
			}
			out = append(out, r)
		}
	}
	return out
}

func encode(recs []event.Record) ([][]byte, int64) {
	out := make([][]byte, len(recs))
	var n int64
	for i := range recs {
		out[i] = event.AppendRecord(nil, &recs[i])
		n += int64(len(out[i]))
	}
	return out, n
}

// decodeAndApply is the aggregator worker's loop: decode records into batches of 256, apply
// them, hand the output to the sink every 100 000 records.
func decodeAndApply(b *testing.B, recs [][]byte) {
	const batch = 256
	buf := make([]event.Record, batch)
	offs := make([]int64, batch)
	p := New(DefaultConfig(), 0)
	var rec event.Record
	for start := 0; start < len(recs); start += batch {
		n := min(batch, len(recs)-start)
		for i := range n {
			if err := event.DecodeRecord(recs[start+i], &buf[i]); err != nil {
				b.Fatal(err)
			}
			offs[i] = int64(start + i)
		}
		p.AddBatch(buf[:n], offs[:n])
		rec = buf[n-1]
		if start%100_096 == 0 {
			p.Recycle(p.TakeOutput()) // the worker hands output to the sink every flush
		}
	}
	end := event.Record{Type: event.TypeEnd, Flags: event.FlagTrustedTime, StreamID: []byte("space-1"), EventTime: rec.EventTime, ReceivedAt: rec.ReceivedAt}
	p.Add(&end, int64(len(recs)))
	p.TakeOutput()
}

// BenchmarkDecodeAndApply is the aggregator's hot path per event, in order: decode the Kafka
// record, apply the session rules (and append to the listener's log), insert into the minutes'
// sets, close and finalise minutes. Target: ≥ 5M events/s per core.
func BenchmarkDecodeAndApply(b *testing.B) {
	recs, size := encode(heartbeatStream(200_000, 30)) // 6.2M events, 5 minutes of a 200 000-listener stream
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		decodeAndApply(b, recs)
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeAndApplyLate is the same stream with 30 % of the events arriving up to 2 min
// late (in arrival order): each of those is put in its listener's log and the listener derived
// again.
func BenchmarkDecodeAndApplyLate(b *testing.B) {
	evs := heartbeatStream(200_000, 30)
	r := rand.New(rand.NewPCG(1, 2))
	at := make([]int64, len(evs))
	for i := range evs {
		at[i] = evs[i].EventTime
		if r.IntN(10) < 3 {
			at[i] += r.Int64N(120_000)
		}
	}
	idx := make([]int, len(evs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(at[a], at[b]) })
	sorted := make([]event.Record, len(evs))
	for i, j := range idx {
		sorted[i] = evs[j]
		sorted[i].ReceivedAt = at[j]
	}
	recs, size := encode(sorted)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		decodeAndApply(b, recs)
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkStateBytesPerListener measures the state per connected listener in steady state at
// the default horizon (target ≤ 512 bytes): 50 000 listeners beating every 10 s for 35 minutes,
// so every listener's log holds the whole 30-min horizon, all live at the end. It reports the
// state and its parts, and the whole heap growth, which also holds the listener rows of the
// last flush (their buffer is reused; its size follows the flush interval, here 100 000 records).
func BenchmarkStateBytesPerListener(b *testing.B) {
	const n = 50_000
	recs := heartbeatStream(n, 35*6)
	var total, state, slots, logs, bits, index, minutes, rows float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p := New(DefaultConfig(), 0)
		for off := range recs {
			p.Add(&recs[off], int64(off))
			if off%100_000 == 0 {
				p.Recycle(p.TakeOutput())
			}
		}
		p.Recycle(p.TakeOutput())
		runtime.GC()
		runtime.ReadMemStats(&after)
		total = float64(after.HeapAlloc-before.HeapAlloc) / n
		s := p.streams["space-1"]
		var logBytes, slotCount int
		s.tab.each(func(i int32, _ *slot) { logBytes += cap(*s.tab.log(i)) + int(unsafe.Sizeof([]byte{})) })
		for k := range s.tab.slots {
			slotCount += pageSize(k)
		}
		slots = float64(slotCount*int(unsafe.Sizeof(slot{}))) / n
		logs = float64(logBytes) / n
		bits = float64(slotCount*p.ring.stride()*8) / n
		index = float64(len(s.tab.index.ents)) * float64(unsafe.Sizeof(ient{})) / n
		minutes = float64(len(s.minutes)*int(unsafe.Sizeof(window.Minute{}))) / n
		rows = float64(cap(p.spare)*int(unsafe.Sizeof(window.ListenerRow{}))) / n
		state = slots + logs + bits + index + minutes
		runtime.KeepAlive(p)
	}
	b.ReportMetric(state, "state-bytes/listener")
	b.ReportMetric(slots, "slot-bytes/listener")
	b.ReportMetric(logs, "log-bytes/listener")
	b.ReportMetric(bits, "bit-bytes/listener")
	b.ReportMetric(index, "index-bytes/listener")
	b.ReportMetric(minutes, "minute-bytes/listener")
	b.ReportMetric(rows, "row-buffer-bytes/listener")
	b.ReportMetric(total, "heap-bytes/listener")
}
