package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzParse checks the hand-written scanner against encoding/json on one NDJSON line: what
// the scanner accepts is valid JSON with the same string and time values, and valid JSON objects
// (UTF-8, nested no deeper than maxDepth) are never called malformed.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1","type":"heartbeat","stream_id":"s","listener_id":"u","ts":1723507200000,"played_ms":10000}`))
	f.Add([]byte(`{"event_id":"\u00e9\ud83d\ude00","type":"join","stream_id":"s","listener_id":"u","ts":"2024-08-13T00:00:00Z","x":[1,{"y":null}]}`))
	f.Add([]byte(`{"event_id":"e","type":"displayed","stream_id":"s","ts":1,"displayed_count":1200000,"client":{"app":"a"}}`))
	f.Add([]byte(`{"a":"\ud800\ud800","b":1e5,"c":-0.5}`))
	f.Add([]byte(`{"event_id":"e","type":"play","stream_id":"s","listener_id":"u","ts":"2024-08-13T00:00:00.5+02:00","sent_at":1723507201000}`))
	f.Add([]byte(`{"ts":1,"sent_at":"2024\u002d08-13T00:00:01Z","sent_at":null,"ts":2}`))
	f.Add([]byte(`{"event_id":"e","type":"leave","stream_id":"s","listener_id":"u","ts":1,"ticket":"AAAAAGa784DrMl4Z9WwBzmH9YAq0WYTA"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 || bytes.HasPrefix(bytes.TrimLeft(line, " \t\r"), []byte("[")) {
			return
		}
		var got Event
		var reason Reason
		calls := 0
		if err := ParseBody(line, func(_ int, e *Event, r Reason) {
			got, reason = *e, r
			calls++
		}); err != nil {
			t.Fatalf("NDJSON parse returned a body error: %v", err)
		}
		if calls == 0 {
			if len(bytes.TrimSpace(line)) != 0 {
				t.Fatalf("non-blank line produced no event: %q", line)
			}
			return
		}
		// Syntax by json.Valid; values with UseNumber, so that a number too large for a
		// float64 (valid JSON) is not taken for a syntax error.
		var m map[string]any
		jsonErr := errors.New("invalid JSON")
		if json.Valid(line) {
			d := json.NewDecoder(bytes.NewReader(line))
			d.UseNumber()
			jsonErr = d.Decode(&m)
		}
		if reason != ReasonMalformed && reason != ReasonNotObject && jsonErr != nil {
			t.Fatalf("scanner accepted what encoding/json rejects (%v): %q", jsonErr, line)
		}
		if reason == ReasonMalformed && jsonErr == nil && utf8.Valid(line) && depth(line) <= maxDepth {
			t.Fatalf("scanner rejected valid JSON: %q", line)
		}
		if jsonErr != nil || reason != "" {
			return
		}
		for name, v := range map[string][]byte{"event_id": got.EventID, "stream_id": got.StreamID, "listener_id": got.ListenerID, "ticket": got.Ticket} {
			want, ok := m[name].(string)
			if ok && string(v) != want {
				t.Fatalf("%s: scanner %q, encoding/json %q", name, v, want)
			}
		}
		for name, v := range map[string]struct {
			ms  int64
			has bool
		}{"ts": {got.TSMillis, got.HasTS}, "sent_at": {got.SentAtMillis, got.HasSentAt}} {
			// null counts as absent in the scanner, so a key whose last value is null says nothing.
			j, present := m[name]
			if !present && v.has {
				t.Fatalf("%s: scanner saw a value, encoding/json none", name)
			}
			var want int64
			switch j := j.(type) {
			case nil:
				continue
			case json.Number:
				n, err := strconv.ParseInt(string(j), 10, 64)
				if err != nil {
					t.Fatalf("%s: scanner accepted the number %s as %d", name, j, v.ms)
				}
				want = n
			case string:
				ms, ok := parseRFC3339Millis([]byte(j))
				if !ok {
					t.Fatalf("%s: scanner accepted %q, which does not parse as RFC 3339", name, j)
				}
				want = ms
			default:
				t.Fatalf("%s: scanner accepted a %T", name, j)
			}
			if !v.has || v.ms != want {
				t.Fatalf("%s: scanner %d (present %v), encoding/json %d", name, v.ms, v.has, want)
			}
		}
	})
}

func depth(b []byte) int {
	d, maxD, inStr := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '{' || c == '['):
			d++
			maxD = max(maxD, d)
		case !inStr && (c == '}' || c == ']'):
			d--
		}
	}
	return maxD
}

// FuzzDecodeRecord checks the record decoder never panics, and that what it accepts
// re-encodes to a record that decodes to the same thing.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(AppendRecord(nil, &Record{Type: TypeHeartbeat, Listener: 7, PlayedMS: 10000, StalledMS: 3, StreamID: []byte("s"), Client: Client{App: []byte("a")}}))
	f.Add(AppendRecord(nil, &Record{Type: TypeError, ErrorCode: []byte("net"), StreamID: []byte("s")}))
	f.Add(AppendRecord(nil, &Record{Type: TypeDisplayed, DisplayedCount: 1 << 40, StreamID: []byte("s")}))
	f.Add(AppendRecord(nil, &Record{Type: TypeEnd, Flags: FlagTrustedTime, Listener: 9, Fingerprint: 3, EventTime: 1723507200000, StreamID: []byte("s")}))
	f.Add(AppendRecord(nil, &Record{Type: TypeTick, Fingerprint: 0x5eed, EventTime: 1723507200000, ReceivedAt: 1723507200000}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if DecodeRecord(b, &r) != nil {
			return
		}
		var again Record
		if err := DecodeRecord(AppendRecord(nil, &r), &again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(r), normalize(again)) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", r, again)
		}
	})
}

// FuzzValidate checks that validation never panics, whatever the scanner made of a body (even
// an event it refused), and that what it accepts satisfies the SPEC's limits and the character
// rules, judged by textOracle, a rune-by-rune restatement of them. It also holds checkText, with
// its word-at-a-time fast path, to the oracle on the raw input.
func FuzzValidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, nfc := range []bool{false, true} {
			if got, want := checkText(body, nfc), textOracle(body, nfc); got != want {
				t.Fatalf("checkText(%q, %v) = %q, oracle %q", body, nfc, got, want)
			}
		}
		_ = ParseBody(body, func(_ int, e *Event, r Reason) {
			v, field := ValidateField(e)
			if r != "" {
				return
			}
			switch v {
			case "":
				checkValid(t, e)
			case ReasonBadChars, ReasonNotNFC:
				if got := textOracle(textField(e, field), v == ReasonNotNFC); got != v {
					t.Fatalf("%s %q rejected %q, oracle %q", field, textField(e, field), v, got)
				}
			}
		})
	})
}

// textOracle is the character rule of checkText, written for clarity instead of speed.
func textOracle(b []byte, nfc bool) Reason {
	if !utf8.Valid(b) {
		return ReasonBadChars
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			return ReasonBadChars
		}
	}
	if nfc && !norm.NFC.IsNormal(b) {
		return ReasonNotNFC
	}
	return ""
}

func textField(e *Event, field string) []byte {
	return map[string][]byte{"event_id": e.EventID, "stream_id": e.StreamID, "listener_id": e.ListenerID,
		"error_code": e.ErrorCode, "client.app": e.Client.App, "client.version": e.Client.Version,
		"client.platform": e.Client.Platform}[field]
}

// checkValid states the SPEC's event table for an event Validate accepted.
func checkValid(t *testing.T, e *Event) {
	t.Helper()
	text := func(name string, v []byte, minLen, maxLen int, nfc bool) {
		t.Helper()
		if len(v) < minLen || len(v) > maxLen {
			t.Fatalf("valid event with %s of %d bytes: %+v", name, len(v), e)
		}
		if r := textOracle(v, nfc); r != "" {
			t.Fatalf("valid event with %s %q: %s", name, v, r)
		}
	}
	noListener := e.Type == TypeDisplayed || e.Type == TypeEnd
	switch {
	case !e.Type.Client() || !e.HasTS:
		t.Fatalf("valid event of type %v, ts present %v", e.Type, e.HasTS)
	case e.ListenerID == nil && !noListener:
		t.Fatalf("valid %v without listener_id", e.Type)
	case (e.Type == TypeHeartbeat) != e.HasPlayed || e.HasStalled && e.Type != TypeHeartbeat:
		t.Fatalf("valid %v, played_ms present %v, stalled_ms %v", e.Type, e.HasPlayed, e.HasStalled)
	case e.PlayedMS < 0 || e.PlayedMS > MaxIntervalMS || e.StalledMS < 0 || e.StalledMS > MaxIntervalMS:
		t.Fatalf("valid heartbeat with played_ms %d, stalled_ms %d", e.PlayedMS, e.StalledMS)
	case (e.Type == TypeError) != (e.ErrorCode != nil):
		t.Fatalf("valid %v, error_code %q", e.Type, e.ErrorCode)
	case (e.Type == TypeDisplayed) != e.HasDisplayed || e.DisplayedCount < 0:
		t.Fatalf("valid %v, displayed_count present %v (%d)", e.Type, e.HasDisplayed, e.DisplayedCount)
	}
	text("event_id", e.EventID, 1, MaxEventIDLen, false)
	text("stream_id", e.StreamID, 1, MaxStreamIDLen, true)
	if e.ListenerID != nil {
		text("listener_id", e.ListenerID, 1, MaxListenerIDLen, true)
	}
	if e.ErrorCode != nil {
		text("error_code", e.ErrorCode, 1, MaxErrorCodeLen, true)
	}
	text("client.app", e.Client.App, 0, MaxClientField, false)
	text("client.version", e.Client.Version, 0, MaxClientField, false)
	text("client.platform", e.Client.Platform, 0, MaxClientField, false)
}
