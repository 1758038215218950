package event

import (
	"fmt"
	"strings"
	"testing"
)

// benchBody is an NDJSON body of n heartbeats shaped like a real player's; ids are ASCII, or, with
// nonASCII, carry NFC accented letters, which take the slow path of the character checks.
func benchBody(n int, nonASCII bool) []byte {
	var sb strings.Builder
	stream, user := "1YqKDqWqdPLxV", "user"
	if nonASCII {
		stream, user = "émission-café", "utilisateur-é"
	}
	for i := range n {
		ts := 1723507200000 + int64(i)
		fmt.Fprintf(&sb, `{"event_id":"evt-%08d","type":"heartbeat","stream_id":"%s","listener_id":"%s-%d","ts":%d,"played_ms":10000,"stalled_ms":0,"muted":false,"client":{"app":"x","version":"10.52","platform":"ios"},"sent_at":%d}`+"\n",
			i, stream, user, i*7919, ts, ts+5000)
	}
	return []byte(sb.String())
}

// benchmarkParseValidate measures ParseBody + Validate per event, the part of the collector's
// hot path that the character and NFC checks add to (BenchmarkConvert in pkg/collector has the
// whole path).
func benchmarkParseValidate(b *testing.B, nonASCII bool) {
	const n = 500
	body := benchBody(n, nonASCII)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		bad := 0
		if err := ParseBody(body, func(_ int, e *Event, r Reason) {
			if r == "" {
				r = Validate(e)
			}
			if r != "" {
				bad++
			}
		}); err != nil || bad != 0 {
			b.Fatalf("%v, %d rejected", err, bad)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(n*b.N), "ns/event")
}

func BenchmarkParseValidateASCII(b *testing.B)    { benchmarkParseValidate(b, false) }
func BenchmarkParseValidateNonASCII(b *testing.B) { benchmarkParseValidate(b, true) }
