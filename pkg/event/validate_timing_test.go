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
// hot path that the character and NFC checks add to (BenchmarkConvert in internal/collector has the
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

// benchmarkValidate measures Validate alone on parsed events: the cost of the checks without
// the scanner's, which on a busy machine is noise large enough to hide them.
func benchmarkValidate(b *testing.B, nonASCII bool) {
	const n = 500
	body := benchBody(n, nonASCII)
	events := make([]Event, 0, n)
	if err := ParseBody(body, func(_ int, e *Event, _ Reason) { events = append(events, *e) }); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range events {
			if r := Validate(&events[i]); r != "" {
				b.Fatal(r)
			}
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(n*b.N), "ns/event")
}

func BenchmarkValidateASCII(b *testing.B)    { benchmarkValidate(b, false) }
func BenchmarkValidateNonASCII(b *testing.B) { benchmarkValidate(b, true) }
