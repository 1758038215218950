package claims

import (
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/pkg/event"
)

func validClaim() Claim {
	return Claim{ID: "trump-60m", StreamID: "x-space", Claimant: "Donald Trump", Quote: "60 million are listening",
		ClaimedValue: 60e6, Metric: MetricConcurrent, SaidAt: time.Date(2024, 8, 13, 1, 0, 0, 0, time.UTC),
		SourceURL: "https://example.com/article?id=1"}
}

func TestValidate(t *testing.T) {
	if err := validClaim().Validate(); err != nil {
		t.Fatalf("valid claim: %v", err)
	}
	cases := []struct {
		name  string
		edit  func(*Claim)
		field string // "" when the claim stays valid
		msg   string
	}{
		{"no claim_id", func(c *Claim) { c.ID = "" }, "claim_id", "missing"},
		{"claim_id of 64 bytes", func(c *Claim) { c.ID = strings.Repeat("a", 64) }, "", ""},
		{"claim_id of 65 bytes", func(c *Claim) { c.ID = strings.Repeat("a", 65) }, "claim_id", "65 bytes long, at most 64"},
		{"claim_id with a space at the end", func(c *Claim) { c.ID = "a " }, "claim_id", "starts or ends with a space"},
		{"claim_id with a bidi override", func(c *Claim) { c.ID = "a\u202eb" }, "claim_id", "U+202E at character 2"},
		{"claim_id with a zero-width joiner", func(c *Claim) { c.ID = "a\u200db" }, "claim_id", "U+200D"},
		{"no stream_id", func(c *Claim) { c.StreamID = "" }, "stream_id", "missing"},
		{"stream_id of 128 bytes", func(c *Claim) { c.StreamID = strings.Repeat("s", 128) }, "", ""},
		{"stream_id of 129 bytes", func(c *Claim) { c.StreamID = strings.Repeat("s", 129) }, "stream_id", "129 bytes long, at most 128"},
		{"stream_id not in NFC", func(c *Claim) { c.StreamID = "cafe\u0301" }, "stream_id", "NFC"},
		{"stream_id in NFC", func(c *Claim) { c.StreamID = "caf\u00e9" }, "", ""},
		{"stream_id with a tab", func(c *Claim) { c.StreamID = "a\tb" }, "stream_id", "control character U+0009 at character 2"},
		{"claimant of 200 characters (400 bytes)", func(c *Claim) { c.Claimant = strings.Repeat("é", 200) }, "", ""},
		{"claimant of 201 characters", func(c *Claim) { c.Claimant = strings.Repeat("é", 201) }, "claimant", "201 characters long, at most 200"},
		{"claimant with a zero-width space", func(c *Claim) { c.Claimant = "Elon\u200bMusk" }, "claimant", "invisible formatting character U+200B at character 5"},
		{"quote of 2000 characters", func(c *Claim) { c.Quote = strings.Repeat("q", 2000) }, "", ""},
		{"quote of 2001 characters", func(c *Claim) { c.Quote = strings.Repeat("q", 2001) }, "quote", "2001 characters long, at most 2000"},
		{"quote with a line break", func(c *Claim) { c.Quote = "60 million\nare listening" }, "quote", "control character U+000A at character 11"},
		{"quote with a carriage return", func(c *Claim) { c.Quote = "60\r" }, "quote", "U+000D"},
		{"quote with an escape sequence", func(c *Claim) { c.Quote = "\x1b[2J" }, "quote", "control character U+001B at character 1"},
		{"quote with DEL", func(c *Claim) { c.Quote = "a\x7f" }, "quote", "U+007F"},
		{"quote with a C1 control", func(c *Claim) { c.Quote = "a\u0085" }, "quote", "control character U+0085"},
		{"quote with a line separator", func(c *Claim) { c.Quote = "a\u2028b" }, "quote", "U+2028"},
		{"quote with a bidi isolate", func(c *Claim) { c.Quote = "a\u2066b" }, "quote", "U+2066"},
		{"quote with the BOM", func(c *Claim) { c.Quote = "\ufeffa" }, "quote", "U+FEFF"},
		{"quote with invalid UTF-8", func(c *Claim) { c.Quote = "a\xffb" }, "quote", "not valid UTF-8 at character 2"},
		{"quote with U+FFFD", func(c *Claim) { c.Quote = "a\ufffd" }, "quote", "replacement character U+FFFD"},
		{"quote with an emoji family (ZWJ)", func(c *Claim) { c.Quote = "\U0001F468\u200d\U0001F469\u200d\U0001F467 listening" }, "", ""},
		{"quote in Persian with a ZWNJ", func(c *Claim) { c.Quote = "می\u200cشود" }, "", ""},
		{"claimed_value NaN", func(c *Claim) { c.ClaimedValue = math.NaN() }, "claimed_value", "NaN is not a finite number"},
		{"claimed_value +Inf", func(c *Claim) { c.ClaimedValue = math.Inf(1) }, "claimed_value", "not a finite number"},
		{"claimed_value -Inf", func(c *Claim) { c.ClaimedValue = math.Inf(-1) }, "claimed_value", "not a finite number"},
		{"claimed_value negative", func(c *Claim) { c.ClaimedValue = -1 }, "claimed_value", "-1 is negative"},
		{"claimed_value 0", func(c *Claim) { c.ClaimedValue = 0 }, "", ""},
		{"no metric", func(c *Claim) { c.Metric = "" }, "metric", "missing"},
		{"metric views", func(c *Claim) { c.Metric = "views" }, "metric", `"views" is not one of concurrent, cume, displayed`},
		{"metric capitalised", func(c *Claim) { c.Metric = "Cume" }, "metric", `"Cume"`},
		{"metric cume", func(c *Claim) { c.Metric = MetricCume }, "", ""},
		{"metric displayed", func(c *Claim) { c.Metric = MetricDisplayed }, "", ""},
		{"no said_at", func(c *Claim) { c.SaidAt = time.Time{} }, "", ""},
		{"said_at at the epoch", func(c *Claim) { c.SaidAt = time.Unix(0, 0) }, "said_at", "1970-01-01T00:00:00Z is not after"},
		{"said_at a millisecond after the epoch", func(c *Claim) { c.SaidAt = time.UnixMilli(1) }, "", ""},
		{"said_at in 2300", func(c *Claim) { c.SaidAt = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }, "said_at", "before 2300"},
		{"no source_url", func(c *Claim) { c.SourceURL = "" }, "", ""},
		{"source_url http", func(c *Claim) { c.SourceURL = "http://example.com" }, "", ""},
		{"source_url HTTPS", func(c *Claim) { c.SourceURL = "HTTPS://example.com/a" }, "", ""},
		{"source_url ftp", func(c *Claim) { c.SourceURL = "ftp://example.com/a" }, "source_url", "not an absolute http or https URL"},
		{"source_url without scheme", func(c *Claim) { c.SourceURL = "example.com/a" }, "source_url", "not an absolute"},
		{"source_url without host", func(c *Claim) { c.SourceURL = "https:///a" }, "source_url", "not an absolute"},
		{"source_url javascript", func(c *Claim) { c.SourceURL = "javascript:alert(1)" }, "source_url", "not an absolute"},
		{"source_url relative", func(c *Claim) { c.SourceURL = "/news/1" }, "source_url", "not an absolute"},
		{"source_url with a space", func(c *Claim) { c.SourceURL = "https://exa mple.com/" }, "source_url", "not an absolute"},
		{"source_url with a line break", func(c *Claim) { c.SourceURL = "https://example.com/\n" }, "source_url", "U+000A"},
		{"source_url of 2000 characters", func(c *Claim) { c.SourceURL = "https://example.com/" + strings.Repeat("a", 1980) }, "", ""},
		{"source_url of 2001 characters", func(c *Claim) { c.SourceURL = "https://example.com/" + strings.Repeat("a", 1981) }, "source_url", "2001 characters long, at most 2000"},
	}
	for _, tc := range cases {
		c := validClaim()
		tc.edit(&c)
		err := c.Validate()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && err == nil:
			t.Errorf("%s: accepted", tc.name)
		case tc.field != "" && (!strings.HasPrefix(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%s: %q, want %s: …%s…", tc.name, err, tc.field, tc.msg)
		}
	}
}

func TestValidateNamesEveryField(t *testing.T) {
	err := Claim{ClaimedValue: -1, Quote: "\x00", SourceURL: "x"}.Validate()
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		got = append(got, strings.SplitN(e.Error(), ":", 2)[0])
	}
	want := []string{"claim_id", "stream_id", "quote", "claimed_value", "metric", "source_url"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("fields %v, want %v (%v)", got, want, err)
	}
}

// TestStreamIDCharsAsEvents: a stream id a claim may name is one an event may carry, as far as
// characters and NFC go (pkg/event's checkText is not exported; checkChars restates it).
func TestStreamIDCharsAsEvents(t *testing.T) {
	for _, s := range []string{"x-space", "caf\u00e9", "cafe\u0301", "a\tb", "a\x7f", "a\u0085", "a\u00adb", "a\u200bb", "a\u200db",
		"a\u202eb", "a\u2028", "a\ufeff", "a\ufffd", "a\xff", "\U000e0041", "日本語", "a b", "ab\u0308", "\u1100\u1161"} {
		_, field := event.ValidateField(&event.Event{EventID: []byte("e"), TypeName: []byte("join"), Type: event.TypeJoin, StreamID: []byte(s)})
		eventRejects := field == "stream_id"
		claimRejects := checkID(s, MaxStreamIDLen, true) != ""
		if eventRejects != claimRejects {
			t.Errorf("stream id %+q: event rejects %v, claim rejects %v", s, eventRejects, claimRejects)
		}
	}
}

func TestNewID(t *testing.T) {
	c := validClaim()
	id := NewID(c)
	if !regexp.MustCompile(`^c-[0-9a-f]{12}$`).MatchString(id) {
		t.Fatalf("NewID = %q", id)
	}
	c.ID = id
	if err := c.Validate(); err != nil {
		t.Fatalf("a new id is not a valid claim_id: %v", err)
	}
	// Pinned: stored ad-hoc claims keep their ids across releases. The value is SHA-256 of
	// "22:x-space-2024-08-12-sim,10:concurrent,5:6e+07,20:2024-08-13T01:00:00Z,12:Donald Trump,",
	// computed outside Go (Python's hashlib).
	pinned := Claim{StreamID: "x-space-2024-08-12-sim", Metric: MetricConcurrent, ClaimedValue: 60e6,
		SaidAt: time.Date(2024, 8, 13, 1, 0, 0, 0, time.UTC), Claimant: "Donald Trump"}
	if got := NewID(pinned); got != "c-2706bee8583c" {
		t.Fatalf("NewID = %s, want c-2706bee8583c", got)
	}
	if got := NewID(Claim{StreamID: "s", Metric: MetricCume, ClaimedValue: 1.5}); got != "c-33223d8fd742" {
		t.Fatalf("NewID without said_at = %s, want c-33223d8fd742", got)
	}

	same := map[string]func(*Claim){
		"another claim_id":   func(c *Claim) { c.ID = "other" },
		"another quote":      func(c *Claim) { c.Quote = "sixty million" },
		"another source_url": func(c *Claim) { c.SourceURL = "https://example.org/" },
		"said_at in another zone": func(c *Claim) {
			c.SaidAt = c.SaidAt.In(time.FixedZone("EDT", -4*3600))
		},
		"said_at 999 µs later (stored to the millisecond)": func(c *Claim) { c.SaidAt = c.SaidAt.Add(999 * time.Microsecond) },
	}
	for name, edit := range same {
		d := validClaim()
		edit(&d)
		if NewID(d) != NewID(validClaim()) {
			t.Errorf("%s changes the id", name)
		}
	}
	differ := map[string]func(*Claim){
		"stream_id":     func(c *Claim) { c.StreamID = "x-space-2" },
		"metric":        func(c *Claim) { c.Metric = MetricDisplayed },
		"claimed_value": func(c *Claim) { c.ClaimedValue = 60e6 + 1 },
		"said_at":       func(c *Claim) { c.SaidAt = c.SaidAt.Add(time.Millisecond) },
		"no said_at":    func(c *Claim) { c.SaidAt = time.Time{} },
		"claimant":      func(c *Claim) { c.Claimant = "Donald J. Trump" },
		"fields shifted": func(c *Claim) { // "x-space" + "concurrent" vs "x-spacec" + "oncurrent"
			c.StreamID, c.Metric = "x-spacec", "oncurrent"
		},
	}
	for name, edit := range differ {
		d := validClaim()
		edit(&d)
		if NewID(d) == NewID(validClaim()) {
			t.Errorf("another %s keeps the id", name)
		}
	}
	zero, negZero := validClaim(), validClaim()
	zero.ClaimedValue, negZero.ClaimedValue = 0, math.Copysign(0, -1)
	if NewID(zero) != NewID(negZero) {
		t.Error("0 and -0 have different ids")
	}
}

func TestShowEscapes(t *testing.T) {
	err := Claim{ID: "a", StreamID: "s", Metric: "\x1b[2J" + strings.Repeat("m", 60)}.Validate()
	if msg := err.Error(); strings.ContainsRune(msg, 0x1b) || !strings.Contains(msg, `"\x1b[2J`) || !strings.Contains(msg, `…"`) {
		t.Fatalf("message %q", msg)
	}
}
