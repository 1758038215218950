package collector

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/earshot/earshot/internal/config"
	"github.com/earshot/earshot/internal/ticket"
	"github.com/earshot/earshot/pkg/event"
)

const (
	ticketKey     = "ticket-key-held-by-the-platform-0123456789"
	prevTicketKey = "previous-ticket-key-of-the-platform-012345"
)

// ticketNow is the collector's clock in these tests; tickets expire a day later unless a test
// says otherwise.
var ticketNow = time.Unix(1_723_509_720, 0) // 2024-08-13T00:42:00Z

func ticketConfig(mode AuthMode) Config {
	cfg := testConfig()
	cfg.ListenerAuth = mode
	cfg.Ticket.Key = config.Secret(ticketKey)
	return cfg
}

func sign(t *testing.T, key, stream, listener string, expiry time.Time) string {
	t.Helper()
	tk, err := ticket.Sign([]byte(key), []byte(stream), []byte(listener), expiry)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// ev is a play event of listener on stream "s" with ticket tk ("" for none).
func ev(id, typ, listener, tk string) string {
	extra := ""
	switch typ {
	case "heartbeat":
		extra = `,"played_ms":10000`
	case "error":
		extra = `,"error_code":"network"`
	case "displayed":
		extra = `,"displayed_count":1200000`
	}
	if listener != "" {
		extra += fmt.Sprintf(`,"listener_id":%q`, listener)
	}
	if tk != "" {
		extra += fmt.Sprintf(`,"ticket":%q`, tk)
	}
	return fmt.Sprintf(`{"event_id":%q,"type":%q,"stream_id":"s","ts":%d%s}`, id, typ, ticketNow.UnixMilli(), extra)
}

// outcome is what happened to one event of a request: accepted (with or without the flag) or
// rejected with a reason and a message containing msg.
type outcome struct {
	reason        event.Reason
	msg           string
	authenticated bool
}

// checkOutcomes converts the lines as one request and compares each event's fate with want.
func checkOutcomes(t *testing.T, p *Pipeline, src Source, lines []string, want []outcome) {
	t.Helper()
	b := convert(t, p, src, ticketNow, strings.Join(lines, "\n"))
	msg, errs := 0, map[int]ItemError{}
	for _, e := range b.Resp.Errors {
		errs[e.Index] = e
	}
	for i, w := range want {
		e, rejected := errs[i]
		switch {
		case w.reason != "" && (!rejected || e.Reason != w.reason || !strings.Contains(e.Message, w.msg)):
			t.Errorf("event %d (%s): %+v, want rejected %s with a message about %q", i, lines[i], e, w.reason, w.msg)
		case w.reason == "" && rejected:
			t.Errorf("event %d (%s): rejected %+v", i, lines[i], e)
		case w.reason == "":
			r := decode(t, b, msg)
			msg++
			if got := r.Flags&event.FlagAuthenticated != 0; got != w.authenticated {
				t.Errorf("event %d (%s): authenticated %v, want %v", i, lines[i], got, w.authenticated)
			}
		}
	}
	if b.Invalid != len(errs) || b.Filtered != 0 {
		t.Errorf("invalid %d, filtered %d: ticket rejections are client errors", b.Invalid, b.Filtered)
	}
	for _, m := range b.Msgs {
		for _, line := range lines {
			if i := strings.Index(line, `"ticket":"`); i >= 0 && bytes.Contains(m.Value, []byte(line[i+10:i+26])) {
				t.Fatal("a ticket reached the Kafka record")
			}
		}
	}
}

func TestTicketsOptional(t *testing.T) {
	p, err := NewPipeline(ticketConfig(AuthOptional))
	if err != nil {
		t.Fatal(err)
	}
	day := ticketNow.Add(24 * time.Hour)
	alice := sign(t, ticketKey, "s", "alice", day)
	lines := []string{
		ev("1", "join", "alice", alice),
		ev("2", "heartbeat", "alice", alice),
		ev("3", "play", "bob", ""),                                                            // no ticket: accepted, unmarked
		ev("4", "play", "mallory", alice),                                                     // alice's ticket for another listener
		ev("5", "play", "alice", sign(t, ticketKey, "other-stream", "alice", day)),            // for another stream
		ev("6", "play", "alice", sign(t, ticketKey, "s", "alice", ticketNow)),                 // expires as it arrives
		ev("7", "play", "alice", sign(t, ticketKey, "s", "alice", ticketNow.Add(-time.Hour))), // expired an hour ago
		ev("8", "play", "alice", sign(t, strings.Repeat("f", 40), "s", "alice", day)),         // forged with another key
		ev("9", "play", "alice", alice[:31]),                                                  // truncated
		ev("10", "play", "alice", strings.Repeat("x", 300)),                                   // too long for validation
		ev("11", "displayed", "", ""),
		ev("12", "displayed", "", alice), // a displayed event has no listener to vouch for
		ev("13", "error", "alice", alice),
	}
	checkOutcomes(t, p, Source{Platform: true}, lines, []outcome{
		{authenticated: true},
		{authenticated: true},
		{},
		{reason: ReasonBadTicket, msg: "signature"},
		{reason: ReasonBadTicket, msg: "signature"},
		{reason: ReasonBadTicket, msg: "expired"},
		{reason: ReasonBadTicket, msg: "expired"},
		{reason: ReasonBadTicket, msg: "signature"},
		{reason: ReasonBadTicket, msg: "malformed"},
		{reason: ReasonBadTicket, msg: "256"},
		{},
		{reason: event.ReasonFieldNotAllowed, msg: "ticket"},
		{authenticated: true},
	})
}

func TestTicketsSigned(t *testing.T) {
	cfg := ticketConfig(AuthSigned)
	cfg.Ticket.PreviousKey = config.Secret(prevTicketKey)
	p, err := NewPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	day := ticketNow.Add(24 * time.Hour)
	lines := []string{
		ev("1", "join", "alice", sign(t, ticketKey, "s", "alice", day)),
		ev("2", "join", "bob", ""),
		ev("3", "leave", "bob", ""),
		ev("4", "heartbeat", "carol", sign(t, prevTicketKey, "s", "carol", day)), // signed before the rotation
		ev("5", "play", "dave", sign(t, ticketKey, "s", "alice", day)),
		ev("6", "displayed", "", ""),
		ev("7", "error", "erin", sign(t, ticketKey, "s", "erin", ticketNow.Add(-time.Second))),
	}
	want := []outcome{
		{authenticated: true},
		{reason: ReasonTicketRequired, msg: "signed"},
		{reason: ReasonTicketRequired, msg: "signed"},
		{authenticated: true},
		{reason: ReasonBadTicket, msg: "signature"},
		{},
		{reason: ReasonBadTicket, msg: "expired"},
	}
	checkOutcomes(t, p, Source{Platform: true}, lines, want)

	// A token may be exempt (a platform's server-side token): its events need no ticket, and none
	// is checked or counted as authenticated.
	checkOutcomes(t, p, Source{ListenerAuth: AuthOff, Platform: true}, lines[:6], []outcome{{}, {}, {}, {}, {}, {}})
	// An end event of a trusted token (an import or replay) needs no ticket either.
	end := `{"event_id":"end","type":"end","stream_id":"s","ts":1723500000000}`
	checkOutcomes(t, p, Source{TrustedTime: true}, []string{end}, []outcome{{}})

	// A token may also ask more than the config does.
	p, _ = NewPipeline(ticketConfig(AuthOff))
	checkOutcomes(t, p, Source{}, lines[:2], []outcome{{}, {}})
	checkOutcomes(t, p, Source{ListenerAuth: AuthSigned}, lines[:2], []outcome{{authenticated: true}, {reason: ReasonTicketRequired, msg: "signed"}})
}

// TestTicketsOverHTTP posts through the server: rejections answer 400 with their reasons and
// are counted; an accepted event goes on to Kafka (down here, hence 503).
func TestTicketsOverHTTP(t *testing.T) {
	t.Setenv("EARSHOT_TEST_TICKET_KEY", ticketKey)
	srv, ts := newTestCollector(t, func(c *Config) {
		c.ListenerAuth = AuthSigned
		c.Ticket.KeyEnv = "EARSHOT_TEST_TICKET_KEY"
		c.Tokens = append(c.Tokens, Token{Name: "platform", Token: "platform-token-0123456789", ListenerAuth: AuthOff, Platform: true},
			Token{Name: "partner", Token: "partner-token-0123456789", ListenerAuth: AuthOptional})
	})
	valid := sign(t, ticketKey, "s", "alice", time.Now().Add(time.Hour))
	expired := sign(t, ticketKey, "s", "alice", time.Now().Add(-time.Minute))
	platform := func(r *http.Request) { r.Header.Set("Authorization", "Bearer platform-token-0123456789") }
	partner := func(r *http.Request) { r.Header.Set("Authorization", "Bearer partner-token-0123456789") }
	cases := []struct {
		name   string
		body   string
		opts   []reqOpt
		status int
		reason event.Reason
		msg    string
	}{
		{"no ticket", `{"event_id":"1","type":"join","stream_id":"s","listener_id":"alice","ts":1}`, nil, 400, ReasonTicketRequired, "signed"},
		{"forged", `{"event_id":"1","type":"join","stream_id":"s","listener_id":"mallory","ts":1,"ticket":"` + valid + `"}`, nil, 400, ReasonBadTicket, "signature"},
		{"valid", `{"event_id":"1","type":"join","stream_id":"s","listener_id":"alice","ts":1,"ticket":"` + valid + `"}`, nil, 503, "", ""},
		{"displayed", `{"event_id":"1","type":"displayed","stream_id":"s","ts":1,"displayed_count":5}`, []reqOpt{platform}, 503, "", ""},
		{"exempt token", `{"event_id":"1","type":"join","stream_id":"s","listener_id":"alice","ts":1}`, []reqOpt{platform}, 503, "", ""},
		{"optional: no ticket", `{"event_id":"1","type":"join","stream_id":"s","listener_id":"bob","ts":1}`, []reqOpt{partner}, 503, "", ""},
		{"optional: expired", `{"event_id":"1","type":"join","stream_id":"s","listener_id":"alice","ts":1,"ticket":"` + expired + `"}`, []reqOpt{partner}, 400, ReasonBadTicket, "expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, r, _ := post(t, ts.URL, c.body, c.opts...)
			if status != c.status || (c.reason != "" && (len(r.Errors) != 1 || r.Errors[0].Reason != c.reason || !strings.Contains(r.Errors[0].Message, c.msg))) {
				t.Fatalf("status %d %+v, want %d %s (%s)", status, r, c.status, c.reason, c.msg)
			}
		})
	}
	metrics := adminMetrics(t, srv)
	for reason, n := range map[event.Reason]int{ReasonTicketRequired: 1, ReasonBadTicket: 2} {
		if line := fmt.Sprintf(`earshot_collector_events_rejected_total{reason=%q} %d`, reason, n); !bytes.Contains(metrics, []byte(line)) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

func TestTicketConfig(t *testing.T) {
	f := func(mutate func(*Config), key string) {
		t.Helper()
		c := ticketConfig(AuthOptional)
		mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("error %v does not name %s", err, key)
		}
		if _, err := NewPipeline(c); err == nil {
			t.Fatal("NewPipeline accepted what Validate rejects")
		}
	}
	f(func(c *Config) { c.ListenerAuth = "required" }, "listener_auth")
	f(func(c *Config) { c.Tokens[0].ListenerAuth = "none" }, "tokens[0] (app): listener_auth")
	f(func(c *Config) { c.Ticket.Key = "" }, "ticket.key")
	f(func(c *Config) { c.ListenerAuth = AuthOff; c.Ticket.Key = ""; c.Tokens[0].ListenerAuth = AuthSigned }, "ticket.key")
	f(func(c *Config) { c.Ticket.Key = "short" }, "ticket.key")
	f(func(c *Config) { c.Ticket.Key = config.Secret(testKey) }, "ticket.key must differ from hash.key")
	f(func(c *Config) { c.Ticket.PreviousKey = c.Ticket.Key }, "ticket.previous_key")
	f(func(c *Config) { c.Ticket.KeyEnv = "EARSHOT_TEST_UNSET_TICKET_KEY" }, "ticket.key_env")
	f(func(c *Config) { c.Ticket.PreviousKey = "short" }, "ticket.previous_key")

	for _, ok := range []func(*Config){
		func(c *Config) {},
		func(c *Config) { c.ListenerAuth = AuthOff; c.Ticket.Key = "" },
		func(c *Config) { c.ListenerAuth = AuthSigned; c.Tokens[0].ListenerAuth = AuthOff },
		func(c *Config) { c.Ticket.PreviousKey = prevTicketKey },
	} {
		c := ticketConfig(AuthOptional)
		ok(&c)
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if DefaultConfig().ListenerAuth != AuthOff {
		t.Fatal("listener_auth is not off by default")
	}
}

// TestTicketConfigLoads reads the keys as an operator writes them, YAML's bare off included
// (YAML 1.1 would make it false), and checks that printing the config shows no key.
func TestTicketConfigLoads(t *testing.T) {
	file := filepath.Join(t.TempDir(), "collector.yaml")
	os.WriteFile(file, []byte(`listener_auth: signed
ticket:
  previous_key_env: EARSHOT_TEST_PREVIOUS_TICKET_KEY
tokens:
  - name: web
    token: web-token-0123456789
  - name: platform
    token: platform-token-0123456789
    listener_auth: off
`), 0o644)
	t.Setenv("EARSHOT_TICKET_KEY", ticketKey)
	t.Setenv("EARSHOT_TEST_PREVIOUS_TICKET_KEY", prevTicketKey)
	t.Setenv("EARSHOT_HASH_KEY", testKey)
	fs := pflag.NewFlagSet("collector", pflag.ContinueOnError)
	config.Flags(fs)
	fs.Parse([]string{"--config", file})
	cfg := DefaultConfig()
	if err := config.Load(fs, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.ListenerAuth != AuthSigned || cfg.Tokens[0].ListenerAuth != "" || cfg.Tokens[1].ListenerAuth != AuthOff ||
		cfg.Ticket.current() != ticketKey || cfg.Ticket.previous() != prevTicketKey {
		t.Fatalf("loaded %+v", cfg)
	}
	if printed := fmt.Sprintf("%+v %v", cfg, cfg.Ticket); strings.Contains(printed, ticketKey) || !strings.Contains(printed, "Key:<secret>") {
		t.Fatalf("printed config: %s", printed)
	}
}

// BenchmarkConvertTickets is BenchmarkConvert with every event carrying a ticket to verify.
func BenchmarkConvertTickets(b *testing.B) {
	p, err := NewPipeline(ticketConfig(AuthSigned))
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	const n = 500
	expiry := time.UnixMilli(1723507200000).Add(365 * 24 * time.Hour)
	for i := range n {
		ts := 1723507200000 + int64(i)
		listener := fmt.Sprint("user-", i*7919)
		tk, _ := ticket.Sign([]byte(ticketKey), []byte("1YqKDqWqdPLxV"), []byte(listener), expiry)
		fmt.Fprintf(&sb, `{"event_id":"evt-%08d","type":"heartbeat","stream_id":"1YqKDqWqdPLxV","listener_id":%q,"ts":%d,"played_ms":10000,"stalled_ms":0,"muted":false,"client":{"app":"x","version":"10.52","platform":"ios"},"sent_at":%d,"ticket":%q}`+"\n",
			i, listener, ts, ts+5000, tk)
	}
	body := []byte(sb.String())
	batch := &Batch{}
	now := time.UnixMilli(1723507200000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		batch.Reset()
		now = now.Add(time.Minute)
		if err := p.Convert(body, Source{}, now, batch); err != nil || len(batch.Msgs) != n {
			b.Fatalf("%v, %d msgs %+v", err, len(batch.Msgs), batch.Resp.Errors[:1])
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(n*b.N), "ns/event")
}
