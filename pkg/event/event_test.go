package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
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
	e, r := parseOne(t, `{"event_id":"e\u00e9\n","type":"heartbeat","stream_id":"s\"1","listener_id":"\ud83d\ude00",`+
		`"ts":"2024-08-13T00:42:00.5Z","played_ms":9500,"stalled_ms":500,"muted":true,"client":{"app":"a","platform":"web"},"ticket":"t\u002d1"}`)
	if r != "" {
		t.Fatal(r)
	}
	want := time.Date(2024, 8, 13, 0, 42, 0, 500e6, time.UTC).UnixMilli()
	if string(e.EventID) != "eé\n" || string(e.StreamID) != `s"1` || string(e.ListenerID) != "😀" ||
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
