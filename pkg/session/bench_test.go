package session

import (
	"runtime"
	"testing"
	"time"

	"github.com/earshot/earshot/pkg/event"
)

// heartbeatStream encodes a live stream: `listeners` listeners joined at t0, each beating every
// 10 s for `beats` beats, in time order, as Kafka records.
func heartbeatStream(listeners, beats int) [][]byte {
	out := make([][]byte, 0, listeners*(beats+1))
	key := func(i int) uint64 { return uint64(i)*0x9E3779B97F4A7C15 | 1 }
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
	recs := heartbeatStream(50_000, 30) // 1.55M events, 5 minutes of a 50 000-listener stream
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
		}
		p.Flush()
		p.TakeOutput()
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkStateBytesPerListener measures the partition state per connected listener
// (target ≤ 64 bytes): the heap grown by 500 000 live listeners, divided by them.
func BenchmarkStateBytesPerListener(b *testing.B) {
	const n = 500_000
	recs := heartbeatStream(n, 0)
	var rec event.Record
	var perListener float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p := New(DefaultConfig(), 0)
		for off, data := range recs {
			event.DecodeRecord(data, &rec)
			p.Add(&rec, int64(off))
		}
		p.AdvanceTo(t0 + 20*int64(time.Second/time.Millisecond)) // release the buffer: listeners live in the table
		p.TakeOutput()
		runtime.GC()
		runtime.ReadMemStats(&after)
		perListener = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(p)
	}
	b.ReportMetric(perListener, "bytes/listener")
}
