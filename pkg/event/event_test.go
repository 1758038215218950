package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// parseOne parses a one-event NDJSON body and returns the event and its first problem.
func parseOne(t *testing.T, body string) (Event, Reason) {
	t.Helper()
	var got Event
	var reason Reason
	n := 0
	if err := ParseBody([]byte(body), func(_ int, e *Event, r Reason) {
		got, reason = *e, r
		n++
	}); err != nil {
		t.Fatalf("ParseBody(%s): %v", body, err)
	}
	if n != 1 {
		t.Fatalf("ParseBody(%s) saw %d events, want 1", body, n)
	}
	if reason == "" {
		reason = Validate(&got)
	}
	return got, reason
}

func TestValidationRules(t *testing.T) {
	const base = `"event_id":"e1","stream_id":"space-1","listener_id":"u1","ts":1723507200000`
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name string
		body string
		want Reason
	}{
		{"join", `{` + base + `,"type":"join"}`, ""},
		{"leave", `{` + base + `,"type":"leave"}`, ""},
		{"play", `{` + base + `,"type":"play","muted":false}`, ""},
		{"heartbeat", `{` + base + `,"type":"heartbeat","played_ms":10000,"stalled_ms":0,"muted":true}`, ""},
		{"error", `{` + base + `,"type":"error","error_code":"network"}`, ""},
		{"displayed without listener", `{"event_id":"d","type":"displayed","stream_id":"s","ts":1,"displayed_count":1200000}`, ""},
		{"rfc3339 ts", `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":"2024-08-13T00:42:00.123+02:00"}`, ""},
		{"client object", `{` + base + `,"type":"join","client":{"app":"x","version":"1.2","platform":"ios"}}`, ""},
		{"unknown fields are ignored", `{` + base + `,"type":"join","extra":{"a":[1,2,{"b":null}]}}`, ""},
		{"null is absent", `{` + base + `,"type":"join","muted":null}`, ""},
		{"sent_at unix ms", `{` + base + `,"type":"join","sent_at":1723507201000}`, ""},
		{"sent_at rfc3339", `{` + base + `,"type":"join","sent_at":"2024-08-13T00:00:01Z"}`, ""},
		{"sent_at null is absent", `{` + base + `,"type":"join","sent_at":null}`, ""},

		{"not an object", `7`, ReasonNotObject},
		{"empty object", `{}`, ReasonMissingEventID},
		{"missing event_id", `{"type":"join","stream_id":"s","listener_id":"u","ts":1}`, ReasonMissingEventID},
		{"empty event_id", `{"event_id":"","type":"join","stream_id":"s","listener_id":"u","ts":1}`, ReasonBadEventID},
		{"long event_id", `{"event_id":"` + long(65) + `","type":"join","stream_id":"s","listener_id":"u","ts":1}`, ReasonBadEventID},
		{"event_id 64 bytes ok", `{"event_id":"` + long(64) + `","type":"join","stream_id":"s","listener_id":"u","ts":1}`, ""},
		{"numeric event_id", `{"event_id":7,"type":"join","stream_id":"s","listener_id":"u","ts":1}`, ReasonBadEventID},
		{"missing type", `{` + base + `}`, ReasonMissingType},
		{"unknown type", `{` + base + `,"type":"jump"}`, ReasonBadType},
		{"missing stream_id", `{"event_id":"e","type":"join","listener_id":"u","ts":1}`, ReasonMissingStreamID},
		{"long stream_id", `{"event_id":"e","type":"join","stream_id":"` + long(129) + `","listener_id":"u","ts":1}`, ReasonBadStreamID},
		{"missing listener_id", `{"event_id":"e","type":"join","stream_id":"s","ts":1}`, ReasonMissingListenerID},
		{"long listener_id", `{"event_id":"e","type":"join","stream_id":"s","listener_id":"` + long(129) + `","ts":1}`, ReasonBadListenerID},
		{"missing ts", `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u"}`, ReasonMissingTS},
		{"bad ts string", `{` + strings.Replace(base, `1723507200000`, `"yesterday"`, 1) + `,"type":"join"}`, ReasonBadTS},
		{"negative ts", `{` + strings.Replace(base, `1723507200000`, `-5`, 1) + `,"type":"join"}`, ReasonBadTS},
		{"fractional ts", `{` + strings.Replace(base, `1723507200000`, `1.5`, 1) + `,"type":"join"}`, ReasonBadTS},
		{"bad sent_at string", `{` + base + `,"type":"join","sent_at":"now"}`, ReasonBadSentAt},
		{"negative sent_at", `{` + base + `,"type":"join","sent_at":-1}`, ReasonBadSentAt},
		{"fractional sent_at", `{` + base + `,"type":"join","sent_at":1723507201000.5}`, ReasonBadSentAt},
		{"sent_at bool", `{` + base + `,"type":"join","sent_at":true}`, ReasonBadSentAt},
		{"sent_at object", `{` + base + `,"type":"join","sent_at":{"ms":1}}`, ReasonBadSentAt},
		{"heartbeat without played_ms", `{` + base + `,"type":"heartbeat"}`, ReasonMissingPlayedMS},
		{"negative played_ms", `{` + base + `,"type":"heartbeat","played_ms":-1}`, ReasonBadPlayedMS},
		{"huge played_ms", `{` + base + `,"type":"heartbeat","played_ms":600001}`, ReasonBadPlayedMS},
		{"string played_ms", `{` + base + `,"type":"heartbeat","played_ms":"10"}`, ReasonBadPlayedMS},
		{"huge stalled_ms", `{` + base + `,"type":"heartbeat","played_ms":1,"stalled_ms":700000}`, ReasonBadStalledMS},
		{"played_ms on join", `{` + base + `,"type":"join","played_ms":5}`, ReasonFieldNotAllowed},
		{"muted string", `{` + base + `,"type":"play","muted":"yes"}`, ReasonBadMuted},
		{"error without code", `{` + base + `,"type":"error"}`, ReasonMissingErrorCode},
		{"long error code", `{` + base + `,"type":"error","error_code":"` + long(65) + `"}`, ReasonBadErrorCode},
		{"error_code on play", `{` + base + `,"type":"play","error_code":"x"}`, ReasonFieldNotAllowed},
		{"displayed without count", `{"event_id":"d","type":"displayed","stream_id":"s","ts":1}`, ReasonMissingDisplayed},
		{"negative count", `{"event_id":"d","type":"displayed","stream_id":"s","ts":1,"displayed_count":-3}`, ReasonBadDisplayedCount},
		{"count on join", `{` + base + `,"type":"join","displayed_count":3}`, ReasonFieldNotAllowed},
		{"client not object", `{` + base + `,"type":"join","client":"ios"}`, ReasonBadClient},
		{"client field not string", `{` + base + `,"type":"join","client":{"app":1}}`, ReasonBadClient},
		{"client field too long", `{` + base + `,"type":"join","client":{"app":"` + long(65) + `"}}`, ReasonBadClient},
		{"ticket", `{` + base + `,"type":"heartbeat","played_ms":1,"ticket":"AAAAAGa784DrMl4Z9WwBzmH9YAq0WYTA"}`, ""},
		{"ticket on end", `{"event_id":"x","type":"end","stream_id":"s","ts":1,"ticket":"t"}`, ""},
		{"ticket 256 bytes ok", `{` + base + `,"type":"join","ticket":"` + long(256) + `"}`, ""},
		{"ticket null is absent", `{` + base + `,"type":"join","ticket":null}`, ""},
		{"long ticket", `{` + base + `,"type":"join","ticket":"` + long(257) + `"}`, ReasonBadTicket},
		{"empty ticket", `{` + base + `,"type":"join","ticket":""}`, ReasonBadTicket},
		{"numeric ticket", `{` + base + `,"type":"join","ticket":7}`, ReasonBadTicket},
		{"ticket on displayed", `{"event_id":"d","type":"displayed","stream_id":"s","ts":1,"displayed_count":1,"ticket":"t"}`, ReasonFieldNotAllowed},
		{"syntax error", `{"event_id":"e",`, ReasonMalformed},
		{"trailing garbage", `{` + base + `,"type":"join"} x`, ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, got := parseOne(t, c.body); got != c.want {
				t.Fatalf("reason %q, want %q", got, c.want)
			}
		})
	}
}

func TestParsedValues(t *testing.T) {
	e, r := parseOne(t, `{"event_id":"e\u00e9\/","type":"heartbeat","stream_id":"s\"1","listener_id":"\ud83d\ude00",`+
		`"ts":"2024-08-13T00:42:00.5Z","played_ms":9500,"stalled_ms":500,"muted":true,"client":{"app":"a","platform":"web"},"ticket":"t\u002d1"}`)
	if r != "" {
		t.Fatal(r)
	}
	want := time.Date(2024, 8, 13, 0, 42, 0, 500e6, time.UTC).UnixMilli()
	if string(e.EventID) != "eé/" || string(e.StreamID) != `s"1` || string(e.ListenerID) != "😀" ||
		e.TSMillis != want || e.PlayedMS != 9500 || e.StalledMS != 500 || !e.Muted ||
		string(e.Client.App) != "a" || string(e.Client.Platform) != "web" || e.Client.Version != nil || string(e.Ticket) != "t-1" {
		t.Fatalf("parsed %+v", e)
	}
}

// TestTimestampForms checks the forms of ts and sent_at, which share their syntax.
func TestTimestampForms(t *testing.T) {
	f := func(v string, want time.Time) {
		t.Helper()
		e, r := parseOne(t, `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":`+v+`,"sent_at":`+v+`}`)
		if r != "" || e.TSMillis != want.UnixMilli() || !e.HasSentAt || e.SentAtMillis != want.UnixMilli() {
			t.Fatalf("%s: ts %d sent_at %d %q, want %d", v, e.TSMillis, e.SentAtMillis, r, want.UnixMilli())
		}
	}
	at := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	f(`1723507200000`, at)
	f(`"2024-08-13T00:00:00Z"`, at)
	f(`"2024-08-13T00:00:00.000000001Z"`, at)
	f(`"2024-08-13T00:00:00.12Z"`, at.Add(120*time.Millisecond))
	f(`"2024-08-12T20:00:00-04:00"`, at)
	f(`"2024-02-29T00:00:00Z"`, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC))
	e, r := parseOne(t, `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":"2023-02-29T00:00:00Z"}`)
	if r != ReasonBadTS {
		t.Fatalf("29 Feb 2023 accepted as %d", e.TSMillis)
	}
	e, r = parseOne(t, `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":1,"sent_at":"2023-02-29T00:00:00Z"}`)
	if r != ReasonBadSentAt {
		t.Fatalf("sent_at 29 Feb 2023 accepted as %d (%q)", e.SentAtMillis, r)
	}
	if e, _ := parseOne(t, `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":1}`); e.HasSentAt {
		t.Fatal("HasSentAt without sent_at")
	}
}

func TestBodyForms(t *testing.T) {
	ev := `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":1}`
	count := func(body string) (n int, bad []int, err error) {
		err = ParseBody([]byte(body), func(i int, e *Event, r Reason) {
			if r == "" {
				r = Validate(e)
			}
			if r != "" {
				bad = append(bad, i)
			}
			n++
		})
		return
	}
	if n, bad, err := count(" [" + ev + " , " + ev + "]\n"); n != 2 || len(bad) != 0 || err != nil {
		t.Fatalf("array: %d events, bad %v, %v", n, bad, err)
	}
	if n, _, err := count("[]"); n != 0 || err != nil {
		t.Fatalf("empty array: %d, %v", n, err)
	}
	// NDJSON: a broken line rejects that line only; blank lines and CRLF are fine.
	if n, bad, err := count(ev + "\r\n\n{broken\n" + ev + "\n\"str\"\n"); n != 4 || err != nil || len(bad) != 2 || bad[0] != 1 || bad[1] != 3 {
		t.Fatalf("ndjson: %d events, bad %v, %v", n, bad, err)
	}
	// An array with a syntax error is a body error.
	if _, _, err := count("[" + ev + ", {]"); !errors.Is(err, ErrSyntax) {
		t.Fatalf("broken array: %v", err)
	}
	if _, _, err := count("[" + ev + "] trailing"); !errors.Is(err, ErrSyntax) {
		t.Fatalf("array with trailing data: %v", err)
	}
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	if _, bad, _ := count(`{"x":` + deep + `}`); len(bad) != 1 {
		t.Fatal("deeply nested unknown field accepted")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	cases := []Record{
		{Type: TypeJoin, KeyID: 1, Listener: 0xdeadbeefcafef00d, Fingerprint: 42, EventTime: 1723507200000, ReceivedAt: 1723507200100, StreamID: []byte("space-1")},
		{Type: TypeHeartbeat, Flags: FlagMuted | FlagTrustedTime, Listener: 1, EventTime: -5, ReceivedAt: 7, PlayedMS: 9999, StalledMS: 600000, StreamID: []byte("s"),
			Client: Client{App: []byte("app"), Version: []byte("1.0"), Platform: []byte("ios")}},
		{Type: TypeHeartbeat, Listener: 2, PlayedMS: 0, StreamID: []byte("s")},
		{Type: TypeError, Listener: 3, ErrorCode: []byte("decode"), StreamID: []byte(strings.Repeat("s", 128))},
		{Type: TypeDisplayed, DisplayedCount: 1_200_000, StreamID: []byte("space-1")},
		{Type: TypePlay, Flags: FlagClockCorrected, Listener: 4, EventTime: 1723507200000, ReceivedAt: 1723510800123, StreamID: []byte("s")},
		{Type: TypeHeartbeat, Flags: FlagAuthenticated | FlagMuted | FlagClockCorrected, KeyID: 2, Listener: 5, EventTime: 1723507200000, ReceivedAt: 1723507201000,
			PlayedMS: 10_000, StreamID: []byte("s"), Client: Client{App: []byte("web")}},
	}
	for _, want := range cases {
		b := AppendRecord(nil, &want)
		var got Record
		if err := DecodeRecord(b, &got); err != nil {
			t.Fatalf("%v: %v", want.Type, err)
		}
		gotJSON, _ := json.Marshal(normalize(got))
		wantJSON, _ := json.Marshal(normalize(want))
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Fatalf("round trip:\n got %s\nwant %s", gotJSON, wantJSON)
		}
		// Every truncation is an error, never a panic or a silent success.
		for i := range len(b) {
			if err := DecodeRecord(b[:i], &got); err == nil {
				t.Fatalf("%v: truncated to %d bytes decoded without error", want.Type, i)
			}
		}
		if err := DecodeRecord(append(b, 0), &got); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
	// The authenticated flag is bit 7 of byte 2, as docs/record.md says.
	b := AppendRecord(nil, &cases[len(cases)-1])
	if b[2] != FlagAuthenticated|FlagMuted|FlagClockCorrected|FlagHasPlayed|FlagHasClient || b[2]&0x80 == 0 {
		t.Fatalf("flags byte %08b", b[2])
	}
	b = AppendRecord(nil, &cases[0])
	b[0] = 9
	if err := DecodeRecord(b, new(Record)); !errors.Is(err, ErrRecordVersion) {
		t.Fatalf("version 9: %v", err)
	}
}

// normalize clears the derived flags and nil/empty differences for comparison.
func normalize(r Record) Record {
	r.Flags &^= FlagHasPlayed | FlagHasStalled | FlagHasClient
	for _, p := range []*[]byte{&r.StreamID, &r.ErrorCode, &r.Client.App, &r.Client.Version, &r.Client.Platform} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	return r
}

// hostileChars are characters that must not reach an id or a client string: C0 and C1
// controls and DEL move a terminal's cursor or end lines (a stream id holding "\x1b[2J" clears
// the screen of whoever reads the report); bidi overrides, zero-width characters and the BOM
// make an id display as another one; U+2028/U+2029 end lines in JavaScript and some terminals;
// U+FFFD is what a lone surrogate escape decodes to, so two different ids would become one.
// Each is written as a JSON escape, so the scanner passes it on decoded.
var hostileChars = []string{
	`\u0000`, `\u0007`, `\b`, `\t`, `\n`, `\r`, `\u001b`, `\u001f`, `\u007f`,
	`\u0080`, `\u0085`, `\u009b`, `\u009f`,
	`\u00ad`, `\u061c`, `\u200b`, `\u200c`, `\u200d`, `\u200e`, `\u200f`,
	`\u202a`, `\u202b`, `\u202c`, `\u202d`, `\u202e`, `\u2060`, `\u2066`, `\u2067`, `\u2068`, `\u2069`,
	`\ufeff`, `\u2028`, `\u2029`, `\ud800`, `\udfff`, `\ufffd`, `\udb40\udc01`,
}

// TestHostileCharsRejected checks every id and client string against every hostile character,
// at the start, in the middle and at the end of the value.
func TestHostileCharsRejected(t *testing.T) {
	fields := []struct {
		name string
		body func(v string) string
	}{
		{"event_id", func(v string) string {
			return `{"event_id":"` + v + `","type":"join","stream_id":"s","listener_id":"u","ts":1}`
		}},
		{"stream_id", func(v string) string {
			return `{"event_id":"e","type":"join","stream_id":"` + v + `","listener_id":"u","ts":1}`
		}},
		{"listener_id", func(v string) string {
			return `{"event_id":"e","type":"join","stream_id":"s","listener_id":"` + v + `","ts":1}`
		}},
		{"error_code", func(v string) string {
			return `{"event_id":"e","type":"error","stream_id":"s","listener_id":"u","ts":1,"error_code":"` + v + `"}`
		}},
		{"client.app", func(v string) string {
			return `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":1,"client":{"app":"` + v + `"}}`
		}},
		{"client.version", func(v string) string {
			return `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":1,"client":{"version":"` + v + `"}}`
		}},
		{"client.platform", func(v string) string {
			return `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":1,"client":{"platform":"` + v + `"}}`
		}},
	}
	for _, f := range fields {
		if _, r := parseOne(t, f.body("ok-é")); r != "" {
			t.Fatalf("%s: a clean value is rejected: %q", f.name, r)
		}
		for _, c := range hostileChars {
			for _, v := range []string{c + "x", "a" + c + "é", "x" + c} {
				if _, r := parseOne(t, f.body(v)); r != ReasonBadChars {
					t.Errorf("%s %q: reason %q, want %q", f.name, v, r, ReasonBadChars)
				}
			}
		}
	}
}

// TestInvalidUTF8 checks both ways invalid UTF-8 can arrive: raw in the body, which is not JSON
// (RFC 8259 §8.1) and so malformed, and in an Event not made by the scanner, which Validate
// must refuse on its own.
func TestInvalidUTF8(t *testing.T) {
	for _, raw := range []string{"\xff", "a\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"} {
		if _, r := parseOne(t, `{"event_id":"e","type":"join","stream_id":"`+raw+`","listener_id":"u","ts":1}`); r != ReasonMalformed {
			t.Errorf("raw %q in stream_id: reason %q, want %q", raw, r, ReasonMalformed)
		}
		e := Event{EventID: []byte("e"), TypeName: []byte("join"), Type: TypeJoin, StreamID: []byte("s"),
			ListenerID: []byte("u" + raw), HasTS: true}
		if r := Validate(&e); r != ReasonBadChars {
			t.Errorf("listener_id %q: reason %q, want %q", "u"+raw, r, ReasonBadChars)
		}
	}
}

// TestNotNFCRejected: the same id in NFC and NFD is two byte strings, so two streams or two
// listeners; ids must arrive in NFC. event_id and the client strings are exempt (see
// ReasonNotNFC).
func TestNotNFCRejected(t *testing.T) {
	cases := []struct {
		name string
		body string
		want Reason
	}{
		{"stream_id NFC", `{"event_id":"e","type":"join","stream_id":"caf\u00e9","listener_id":"u","ts":1}`, ""},
		{"stream_id NFD", `{"event_id":"e","type":"join","stream_id":"cafe\u0301","listener_id":"u","ts":1}`, ReasonNotNFC},
		{"stream_id NFD raw", `{"event_id":"e","type":"join","stream_id":"cafe` + "\u0301" + `","listener_id":"u","ts":1}`, ReasonNotNFC},
		{"stream_id Hangul jamo", `{"event_id":"e","type":"join","stream_id":"\u1100\u1161","listener_id":"u","ts":1}`, ReasonNotNFC},
		{"stream_id Hangul syllable", `{"event_id":"e","type":"join","stream_id":"\uac00","listener_id":"u","ts":1}`, ""},
		{"stream_id compatibility char is NFC", `{"event_id":"e","type":"join","stream_id":"\ufb01","listener_id":"u","ts":1}`, ""},
		{"stream_id emoji", `{"event_id":"e","type":"join","stream_id":"\ud83d\ude00","listener_id":"u","ts":1}`, ""},
		{"listener_id NFD", `{"event_id":"e","type":"join","stream_id":"s","listener_id":"Ame\u0301lie","ts":1}`, ReasonNotNFC},
		{"listener_id NFC", `{"event_id":"e","type":"join","stream_id":"s","listener_id":"Am\u00e9lie","ts":1}`, ""},
		{"error_code NFD", `{"event_id":"e","type":"error","stream_id":"s","listener_id":"u","ts":1,"error_code":"re\u0301seau"}`, ReasonNotNFC},
		{"error_code NFC", `{"event_id":"e","type":"error","stream_id":"s","listener_id":"u","ts":1,"error_code":"r\u00e9seau"}`, ""},
		{"event_id NFD is kept as sent", `{"event_id":"e\u0301","type":"join","stream_id":"s","listener_id":"u","ts":1}`, ""},
		{"client NFD is kept as sent", `{"event_id":"e","type":"join","stream_id":"s","listener_id":"u","ts":1,"client":{"app":"e\u0301"}}`, ""},
		{"displayed stream_id NFD", `{"event_id":"d","type":"displayed","stream_id":"cafe\u0301","ts":1,"displayed_count":3}`, ReasonNotNFC},
	}
	for _, c := range cases {
		if _, r := parseOne(t, c.body); r != c.want {
			t.Errorf("%s: reason %q, want %q", c.name, r, c.want)
		}
	}
}

// TestLatinIsNFC backs checkTextSlow's shortcut: below U+0300 the soft hyphen is the only format
// character, and every pair of characters (so every string) is NFC.
func TestLatinIsNFC(t *testing.T) {
	for r := rune(0xa0); r < 0x300; r++ {
		if unicode.Is(unicode.Cf, r) != (r == 0xad) {
			t.Fatalf("U+%04X: format character %v", r, unicode.Is(unicode.Cf, r))
		}
	}
	buf := make([]byte, 0, 8)
	for r1 := rune(0x20); r1 < 0x300; r1++ {
		for r2 := rune(0x20); r2 < 0x300; r2++ {
			buf = utf8.AppendRune(utf8.AppendRune(buf[:0], r1), r2)
			if !norm.NFC.IsNormal(buf) {
				t.Fatalf("%q is not NFC", buf)
			}
		}
	}
}

// TestCheckTextWords: the word-at-a-time test agrees with a byte-by-byte one, whatever the
// position of the first byte outside printable ASCII.
func TestCheckTextWords(t *testing.T) {
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{0x00, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xc3, 0xff} {
				b := []byte(strings.Repeat("a", n))
				b[pos] = c
				want := Reason("")
				if c < 0x20 || c >= 0x7f {
					want = ReasonBadChars // a lone byte ≥ 0x80 is invalid UTF-8
				}
				if got := checkText(b, true); got != want {
					t.Fatalf("%q: %q, want %q", b, got, want)
				}
			}
		}
	}
}
