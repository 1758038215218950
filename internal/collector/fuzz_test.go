package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/earshot/earshot/pkg/event"
)

// FuzzConvert takes a request body along the collector's path without HTTP and Kafka: body
// decoding (decodeBody) and Convert. The mode's low bits choose the body's form: as sent (0),
// compressed by the client (1), or the fuzzer's bytes taken as a gzip stream (2, hostile
// compressed data); its higher bits the sender: trusted_time (4), a declared bot (8), a token
// limited to stream "s" (16). Invariants: nothing panics; Convert fails exactly when the body is
// a broken array; every event is accepted or rejected, each accepted one is a message whose
// record decodes and carries only text the SPEC allows; the response lists at most
// max_events_per_request + 1 errors and stays small.
func FuzzConvert(f *testing.F) {
	cfg := testConfig()
	// Small limits, so that the fuzzer reaches them.
	cfg.Limits.MaxEventsPerRequest = 16
	cfg.Limits.MaxBodyBytes = 64 << 10
	now := time.UnixMilli(1723507200000)
	p, err := NewPipeline(cfg)
	if err != nil {
		f.Fatal(err)
	}
	// Inputs run one after another in a worker, so these can be reused: a gzip.Writer costs
	// about a megabyte to make, which would halve the inputs tried per second.
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	f.Fuzz(func(t *testing.T, body []byte, mode uint8) {
		in, enc := body, ""
		switch mode % 3 {
		case 1:
			zb.Reset()
			zw.Reset(&zb)
			zw.Write(body)
			zw.Close()
			in, enc = zb.Bytes(), "gzip"
		case 2:
			enc = "gzip"
		}
		var buf bytes.Buffer
		if _, rerr := decodeBody(bytes.NewReader(in), enc, cfg.Limits.MaxBodyBytes, &buf, nil); rerr != nil {
			status, msg := rerr.status, rerr.msg
			if mode%3 != 2 && len(body) > 0 && int64(len(body)) <= cfg.Limits.MaxBodyBytes {
				t.Fatalf("a good body refused: %d %s", status, msg)
			}
			return
		}
		decoded := buf.Bytes()
		if int64(len(decoded)) > cfg.Limits.MaxBodyBytes || mode%3 != 2 && !bytes.Equal(decoded, body) {
			t.Fatalf("decoded %d bytes from %d", len(decoded), len(body))
		}
		events := 0
		syntaxErr := event.ParseBody(decoded, func(int, *event.Event, event.Reason) { events++ })

		// Fresh per-listener rates: one input's events must not be counted against the next.
		p.rates = newListenerRates(cfg.Limits.ListenerEventsPerWindow, cfg.Limits.ListenerWindow, cfg.Limits.MaxTrackedListeners)
		src := Source{TrustedTime: mode&4 != 0, Bot: mode&8 != 0}
		if mode&16 != 0 {
			src.Streams = map[string]bool{"s": true}
		}
		var b Batch
		if err := p.Convert(decoded, src, now, &b); (err != nil) != (syntaxErr != nil) {
			t.Fatalf("Convert: %v, ParseBody: %v", err, syntaxErr)
		} else if err != nil {
			return
		}
		r := &b.Resp
		switch {
		case r.Accepted+r.Rejected != events:
			t.Fatalf("%d events, %d accepted + %d rejected", events, r.Accepted, r.Rejected)
		case r.Accepted != len(b.Msgs):
			t.Fatalf("%d accepted, %d messages", r.Accepted, len(b.Msgs))
		case b.Invalid+b.Filtered != r.Rejected || counted(&b) != r.Rejected:
			t.Fatalf("%d rejected: %d invalid + %d filtered, %d counted by reason", r.Rejected, b.Invalid, b.Filtered, counted(&b))
		case len(r.Errors) > cfg.Limits.MaxReplyErrors || !r.ErrorsTruncated && len(r.Errors) != r.Rejected:
			t.Fatalf("%d errors listed of %d rejected (truncated %v)", len(r.Errors), r.Rejected, r.ErrorsTruncated)
		}
		last := -1
		for _, e := range r.Errors {
			if e.Index <= last || e.Index >= events || e.Reason == "" || e.Message == "" {
				t.Fatalf("error %+v after index %d of %d events", e, last, events)
			}
			last = e.Index
		}
		// Messages are the collector's own words, never the client's bytes: ≤ 300 bytes each.
		if out, err := json.Marshal(r); err != nil || len(out) > 64+300*len(r.Errors) {
			t.Fatalf("response of %d bytes for %d errors (%v)", len(out), len(r.Errors), err)
		}
		for _, m := range b.Msgs {
			var rec event.Record
			if err := event.DecodeRecord(m.Value, &rec); err != nil {
				t.Fatalf("message does not decode: %v", err)
			}
			if !bytes.Equal(m.Key, m.Value[4:12]) || !rec.Type.Client() || (rec.Type == event.TypeEnd) != (m.Headers != nil) {
				t.Fatalf("message key %x, type %v, headers %v", m.Key, rec.Type, m.Headers)
			}
			allowed := func(name string, v []byte, maxLen int, nfc bool) {
				if len(v) > maxLen || !allowedText(v, nfc) {
					t.Fatalf("accepted %v with %s %q", rec.Type, name, v)
				}
			}
			allowed("stream_id", rec.StreamID, event.MaxStreamIDLen, true)
			allowed("error_code", rec.ErrorCode, event.MaxErrorCodeLen, true)
			allowed("client.app", rec.Client.App, event.MaxClientField, false)
			allowed("client.version", rec.Client.Version, event.MaxClientField, false)
			allowed("client.platform", rec.Client.Platform, event.MaxClientField, false)
			if len(rec.StreamID) == 0 {
				t.Fatalf("accepted %v without a stream", rec.Type)
			}
		}
	})
}

// allowedText restates the SPEC's character rule (event.ReasonBadChars, event.ReasonNotNFC)
// independently of the event package's fast path.
func allowedText(b []byte, nfc bool) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			return false
		}
	}
	return !nfc || norm.NFC.IsNormal(b)
}

// counted sums a batch's rejections by reason.
func counted(b *Batch) int {
	n := 0
	for _, c := range b.Counts() {
		n += c.N
	}
	return n
}
