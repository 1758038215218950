package session

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/earshot/earshot/pkg/event"
)

// heartbeatStream encodes a live stream: `listeners` listeners joined at t0, each beating every
// 10 s for `beats` beats, in time order, as Kafka records.
func heartbeatStream(listeners, beats int) [][]byte {
	out := make([][]byte, 0, listeners*(beats+1))
	key := func(i int) uint64 { // splitmix64: uniform like the collector's HMAC keys
		z := uint64(i+1) * 0x9E3779B97F4A7C15
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		return z ^ z>>31
	}
	for i := range listeners {
		r := event.Record{Type: event.TypeJoin, Listener: key(i), Fingerprint: uint64(i) << 20, EventTime: t0 + int64(i%10_000), StreamID: []byte("space-1")}
		out = append(out, event.AppendRecord(nil, &r))
	}
	for b := 1; b <= beats; b++ {
		for i := range listeners {
			r := event.Record{Type: event.TypeHeartbeat, Listener: key(i), Fingerprint: uint64(i)<<20 | uint64(b),
				EventTime: t0 + int64(i%10_000) + int64(b)*10_000, PlayedMS: 10_000, StreamID: []byte("space-1")}
			out = append(out, event.AppendRecord(nil, &r))
		}
	}
	return out
}

// BenchmarkDecodeAndApply is the aggregator's hot path per event: decode the Kafka record,
// reorder, apply the session rules, and at minute closes insert into the sketches.
// Target: ≥ 5M events/s per core.
func BenchmarkDecodeAndApply(b *testing.B) {
	recs := heartbeatStream(200_000, 30) // 6.2M events, 5 minutes of a 200 000-listener stream
	var bytes int64
	for _, r := range recs {
		bytes += int64(len(r))
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	var rec event.Record
	for b.Loop() {
		p := New(DefaultConfig(), 0)
		for off, data := range recs {
			if err := event.DecodeRecord(data, &rec); err != nil {
				b.Fatal(err)
			}
			p.Add(&rec, int64(off))
			if off%100_000 == 0 {
				p.Recycle(p.TakeOutput()) // the worker hands output to the sink every flush
			}
		}
		p.Flush()
		p.TakeOutput()
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkStateBytesPerListener measures the state per connected listener in steady state
// (target ≤ 64 bytes): 200 000 listeners heartbeating every 10 s for three minutes, all live
// at the end. It reports the whole heap growth per listener, and its two parts: the listener
// table (the part that scales with the audience) and the reorder buffer (35 s of events in
// flight, ~3.5 heartbeats a listener, which scales with the event rate).
func BenchmarkStateBytesPerListener(b *testing.B) {
	const n = 200_000
	recs := heartbeatStream(n, 18)
	var rec event.Record
	var total, table, buffer float64
	for b.Loop() {
		runtime.GC()
		var before, mid, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p := New(DefaultConfig(), 0)
		for off, data := range recs {
			event.DecodeRecord(data, &rec)
			p.Add(&rec, int64(off))
		}
		p.TakeOutput()
		runtime.GC()
		runtime.ReadMemStats(&after)
		total = float64(after.HeapAlloc-before.HeapAlloc) / n
		buffer = float64(p.buf.n*int(unsafe.Sizeof(ev{}))) / n
		runtime.KeepAlive(p)
		p = nil
		// The table alone: the same listeners, nothing else.
		runtime.GC()
		runtime.ReadMemStats(&before)
		q := New(DefaultConfig(), 0)
		s := q.stream([]byte("space-1"), t0)
		for i := range n {
			q.listenerFor(s, uint64(i)*0x9E3779B97F4A7C15|1)
		}
		runtime.GC()
		runtime.ReadMemStats(&mid)
		table = float64(mid.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(q)
	}
	b.ReportMetric(total, "bytes/listener")
	b.ReportMetric(table, "table-bytes/listener")
	b.ReportMetric(buffer, "buffer-bytes/listener")
}
