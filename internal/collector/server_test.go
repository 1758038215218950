package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/eventlog"
)

// newTestServer returns a collector whose Kafka is unreachable (a closed port): every path
// tested here ends before Kafka, except the 503 test, which relies on it.
func newTestServer(t *testing.T, mutate func(*Config)) *httptest.Server {
	t.Helper()
	_, ts := newTestCollector(t, mutate)
	return ts
}

// newTestCollector is newTestServer that also returns the Server, for tests that look inside.
func newTestCollector(t *testing.T, mutate func(*Config)) (*Server, *httptest.Server) {
	t.Helper()
	cfg := testConfig()
	cfg.Kafka = eventlog.Config{Brokers: []string{"127.0.0.1:1"}, Topic: "unused", Partitions: 1, ReplicationFactor: 1}
	cfg.Limits.KafkaTimeout = 2 * time.Second
	cfg.Tokens = append(cfg.Tokens, Token{Name: "scoped", Token: "scoped-token-0123456789", Streams: []string{"only-this"}})
	if mutate != nil {
		mutate(&cfg)
	}
	p := NewProducer(cfg.Kafka, cfg.Limits.InflightEvents, cfg.Limits.KafkaTimeout)
	s, err := NewServer(cfg, p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); p.Close() })
	return s, ts
}

type reqOpt func(*http.Request)

func post(t *testing.T, url, body string, opts ...reqOpt) (int, Response, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer app-token-0123456789")
	for _, o := range opts {
		o(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r Response
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, data)
	}
	return resp.StatusCode, r, resp.Header
}

const validEvent = `{"event_id":"e1","type":"join","stream_id":"s","listener_id":"u","ts":1723507200000}`

func TestStatusCodes(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Limits.MaxBodyBytes = 4096 })
	noAuth := func(r *http.Request) { r.Header.Del("Authorization") }
	cases := []struct {
		name   string
		body   string
		opts   []reqOpt
		status int
		reason string
	}{
		{"missing token", validEvent, []reqOpt{noAuth}, 401, ""},
		{"forged token", validEvent, []reqOpt{func(r *http.Request) { r.Header.Set("Authorization", "Bearer app-token-0123456780") }}, 401, ""},
		{"token prefix", validEvent, []reqOpt{func(r *http.Request) { r.Header.Set("Authorization", "Bearer app-token") }}, 401, ""},
		{"oversized body", `[` + strings.Repeat(validEvent+",", 100) + validEvent + `]`, nil, 413, ""},
		{"empty body", ``, nil, 400, ""},
		{"malformed array", `[` + validEvent + `,{`, nil, 400, ""},
		{"nothing valid", `{"event_id":"e"}`, nil, 400, "missing_type"},
		{"ts in the future", `{"event_id":"e1","type":"join","stream_id":"s","listener_id":"u","ts":4102444800000}`, nil, 400, "ts_in_future"},
		{"too old for sent_at", `{"event_id":"e1","type":"join","stream_id":"s","listener_id":"u","ts":1723507200000,"sent_at":` + strconv.FormatInt(time.Now().UnixMilli(), 10) + `}`, nil, 400, "ts_too_old"},
		{"stream not allowed for token", validEvent, []reqOpt{func(r *http.Request) { r.Header.Set("Authorization", "Bearer scoped-token-0123456789") }}, 403, "stream_not_allowed"},
		{"end from a token without trusted_time", `{"event_id":"x","type":"end","stream_id":"s","ts":1723507200000}`, nil, 403, "end_not_allowed"},
		{"displayed from a token without platform", `{"event_id":"d","type":"displayed","stream_id":"s","ts":1723507200000,"displayed_count":60000000}`, nil, 403, "displayed_not_allowed"},
		{"declared bot", validEvent, []reqOpt{func(r *http.Request) { r.Header.Set("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1)") }}, 200, "givt_declared_bot"},
		{"unknown encoding", validEvent, []reqOpt{func(r *http.Request) { r.Header.Set("Content-Encoding", "br") }}, 415, ""},
		{"kafka down", validEvent, nil, 503, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, r, h := post(t, ts.URL, c.body, c.opts...)
			if status != c.status {
				t.Fatalf("status %d, want %d (%+v)", status, c.status, r)
			}
			if c.reason != "" && (len(r.Errors) == 0 || string(r.Errors[0].Reason) != c.reason) {
				t.Fatalf("errors %+v, want reason %s", r.Errors, c.reason)
			}
			if status >= 400 && r.Error == "" && len(r.Errors) == 0 {
				t.Fatal("error response without an explanation")
			}
			if (status == 503 || status == 429) && h.Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
		})
	}
}

func TestGzipBombIsTooLarge(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Limits.MaxBodyBytes = 64 << 10 })
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte(" "), 10<<20)) // 10 MiB of spaces, ~10 KiB compressed
	zw.Close()
	status, _, _ := post(t, ts.URL, buf.String(), func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") })
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("gzip bomb: status %d, want 413", status)
	}
}

func TestPerIPRateLimit(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Limits.IPRequestsPerSecond = 1; c.Limits.IPBurst = 3 })
	codes := map[int]int{}
	for range 10 {
		status, _, h := post(t, ts.URL, `{"event_id":"e"}`)
		codes[status]++
		if status == 429 && h.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[400] < 3 || codes[400] > 4 || codes[429] < 6 {
		t.Fatalf("status counts %v: want the burst of 3 through and the rest 429", codes)
	}
}

func TestCORSAndBeacon(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.CORSOrigins = []string{"https://player.example"} })
	resp := preflight(t, ts.URL, "https://player.example")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://player.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// Another origin gets no CORS grant.
	if resp = preflight(t, ts.URL, "https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS granted to an origin not configured")
	}
	// sendBeacon: text/plain, token in the query string. It reaches validation (400 for an
	// invalid event rather than 401).
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/events?token=app-token-0123456789", strings.NewReader(`{"event_id":"e"}`))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("beacon with query token: %d, want 400 (authenticated, invalid event)", resp.StatusCode)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, err := http.Get(ts.URL + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

func TestConfigValidateNamesTheKey(t *testing.T) {
	f := func(mutate func(*Config), key string) {
		t.Helper()
		c := testConfig()
		mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("error %v does not name %s", err, key)
		}
	}
	f(func(c *Config) { c.Tokens = nil }, "tokens")
	f(func(c *Config) { c.Hash.Key = "short" }, "hash.key")
	f(func(c *Config) { c.Tokens[0].Token = "short" }, "tokens[0]")
	f(func(c *Config) { c.Limits.MaxBodyBytes = 0 }, "limits.max_body_bytes")
	f(func(c *Config) { c.Limits.ClockTolerance = -time.Second }, "limits.clock_tolerance")
	f(func(c *Config) { c.Limits.MaxEventAge = 0 }, "limits.max_event_age")
	f(func(c *Config) { c.Limits.MaxReplyErrors = 0 }, "limits.max_reply_errors")
	f(func(c *Config) { c.TrustForwardedFor = true }, "trusted_proxies")
	f(func(c *Config) { c.AdminListen = c.Listen }, "admin_listen")
	f(func(c *Config) { c.Limits.MaxActiveStreams = 0 }, "limits.max_active_streams")
	f(func(c *Config) { c.Limits.StreamIdle = 0 }, "limits.stream_idle")
	f(func(c *Config) { c.Limits.NewStreamsPerMinute = -1 }, "limits.new_streams_per_minute")
	f(func(c *Config) { c.CORSOrigins = []string{"https://player.example/"} }, "cors_origins[0]")
	f(func(c *Config) { c.Tokens[0].CORSOrigins = []string{"*", "player.example"} }, "tokens[0].cors_origins[1]")
	f(func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "proxy.internal"} }, "trusted_proxies[1]")
	f(func(c *Config) { c.Limits.MaxInflightBytes = c.Limits.MaxBodyBytes - 1 }, "limits.max_inflight_bytes")
	f(func(c *Config) { c.Kafka.Topic = "" }, "kafka.topic")
	f(func(c *Config) { c.Hash.PreviousKey = testKey + "x" }, "hash.previous_until")
	if err := testConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestReplyIsBounded: a ~1 KiB gzip body of 300 000 `{}` lines used to get one error entry per
// line back (~27 MB). The reply lists the first limits.max_reply_errors and counts the rest by
// reason; the metrics still count every event.
func TestReplyIsBounded(t *testing.T) {
	s, ts := newTestCollector(t, nil)
	const n = 300_000
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	zw.Write(bytes.Repeat([]byte("{}\n"), n))
	zw.Close()
	size := body.Len()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/events", &body)
	req.Header.Set("Authorization", "Bearer app-token-0123456789")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(data) >= 64<<10 {
		t.Fatalf("reply of %d bytes to a %d-byte request", len(data), size)
	}
	var r Response
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%v: %.200s", err, data)
	}
	total := 0
	for _, c := range r.ErrorCounts {
		total += c
	}
	if resp.StatusCode != 400 || r.Rejected != n || len(r.Errors) != 100 || !r.ErrorsTruncated || total != n {
		t.Fatalf("status %d, rejected %d, %d errors listed, truncated %v, counts %v", resp.StatusCode, r.Rejected, len(r.Errors), r.ErrorsTruncated, r.ErrorCounts)
	}
	counted := 0.0
	for reason := range r.ErrorCounts {
		counted += counterValue(t, s, "earshot_collector_events_rejected_total", string(reason))
	}
	if counted != n {
		t.Fatalf("metrics count %v rejected events, want %d", counted, n)
	}
}

// counterValue reads a counter of s's registry with the given reason label (0 if absent).
// adminMetrics is what the admin listener's /metrics answers.
func adminMetrics(t *testing.T, s *Server) []byte {
	t.Helper()
	admin := httptest.NewServer(s.AdminHandler())
	defer admin.Close()
	r, err := http.Get(admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	m, _ := io.ReadAll(r.Body)
	return m
}

func counterValue(t *testing.T, s *Server, name, reason string) float64 {
	t.Helper()
	mfs, err := s.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestInflightBytesBudget: bodies hold what they have delivered while they are read; past
// limits.max_inflight_bytes the collector answers 503 overloaded at once, and takes requests
// again when they are done. A slow body that has sent little holds little.
func TestInflightBytesBudget(t *testing.T) {
	s, ts := newTestCollector(t, func(c *Config) {
		c.Limits.MaxBodyBytes = 4096
		c.Limits.MaxInflightBytes = 3 * 4096
		c.Limits.IPRequestsPerSecond, c.Limits.IPBurst = 1000, 1000
	})
	const slow = 3
	var pws []*io.PipeWriter
	done := make(chan int, slow)
	for range slow {
		pr, pw := io.Pipe()
		pws = append(pws, pw)
		t.Cleanup(func() { pw.Close() }) // before the server closes, which waits for the handlers
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/events", pr)
		// A declared length, so that the transport sends the headers at once (with an unknown
		// length it may first wait to probe the body).
		req.ContentLength = 4096
		req.Header.Set("Authorization", "Bearer app-token-0123456789")
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		go pw.Write([]byte(`{"event_id":"slow"` + strings.Repeat(" ", 4000)))
	}
	// 3 × 4018 bytes held: a body of 300 more does not fit; one of 200 does.
	probe := `{"event_id":"e"}` + strings.Repeat(" ", 284)
	if status, _, _ := post(t, ts.URL, `{"event_id":"e"}`+strings.Repeat(" ", 184)); status != http.StatusBadRequest {
		t.Fatalf("a 200-byte body beside slow bodies that hold little yet: status %d, want 400", status)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		status, _, h := post(t, ts.URL, probe)
		if status == http.StatusServiceUnavailable {
			if h.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			break
		}
		if status != http.StatusBadRequest || time.Now().After(deadline) {
			t.Fatalf("status %d while %d slow bodies hold the budget, want 503", status, slow)
		}
	}
	if n := counterValue(t, s, "earshot_collector_requests_total", "overloaded"); n == 0 {
		t.Fatal("503 overloaded not counted")
	}
	for _, pw := range pws {
		pw.Write([]byte(`}` + strings.Repeat(" ", 4096-4000-len(`{"event_id":"slow"}`))))
		pw.Close()
	}
	for range slow {
		if st := <-done; st != http.StatusBadRequest {
			t.Fatalf("slow request: status %d, want 400", st)
		}
	}
	if status, _, _ := post(t, ts.URL, probe); status != http.StatusBadRequest {
		t.Fatalf("after the slow bodies: status %d, want 400", status)
	}
}

// TestTokenRateAtAdmission: the token limiter used to be fed the request's start time, so a
// request whose body took a second to arrive wound the limiter back by that second and the next
// request was credited the same second again. Here the token allows 10 events/s with a burst
// of 10: 5 events, then the slow request's 5, leave nothing for 10 more at once.
func TestTokenRateAtAdmission(t *testing.T) {
	const token = "metered-token-0123456789"
	ts := newTestServer(t, func(c *Config) {
		c.Tokens = append(c.Tokens, Token{Name: "metered", Token: token, EventsPerSecond: 10, Burst: 10})
	})
	events := func(prefix string, n int) string {
		var sb strings.Builder
		for i := range n {
			fmt.Fprintf(&sb, `{"event_id":"%s%d","type":"join","stream_id":"s","listener_id":"%s%d","ts":%d}`+"\n", prefix, i, prefix, i, time.Now().UnixMilli())
		}
		return sb.String()
	}
	auth := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/events", pr)
	auth(req)
	slow := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	body := events("slow", 5)
	go pw.Write([]byte(body[:10]))
	time.Sleep(time.Second)
	// Kafka is down: events that pass the token's limit get 503, those over it 429.
	if status, r, _ := post(t, ts.URL, events("a", 5), auth); status != http.StatusServiceUnavailable {
		t.Fatalf("first 5 events: status %d (%+v), want 503 (past the limiter)", status, r)
	}
	pw.Write([]byte(body[10:]))
	pw.Close()
	if st := <-slow; st != http.StatusServiceUnavailable {
		t.Fatalf("slow request: status %d, want 503 (past the limiter)", st)
	}
	if status, _, _ := post(t, ts.URL, events("b", 10), auth); status != http.StatusTooManyRequests {
		t.Fatalf("10 more events at once: status %d, want 429", status)
	}
}

// TestCORSOriginsPerToken: no browser origin by default; a preflight (which carries no token)
// is granted to the origins of any token or the global list; a POST only to those of the token
// it uses, or the global list; "*" only when configured.
func TestCORSOriginsPerToken(t *testing.T) {
	allowed := func(ts *httptest.Server, method, origin, token string) bool {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+"/v1/events", strings.NewReader(`{"event_id":"e"}`))
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
		} else {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin") == origin
	}
	const app, widget = "app-token-0123456789", "widget-token-0123456789"
	ts := newTestServer(t, nil)
	if allowed(ts, http.MethodOptions, "https://evil.example", "") || allowed(ts, http.MethodPost, "https://evil.example", app) {
		t.Fatal("default config grants CORS to any origin")
	}
	ts = newTestServer(t, func(c *Config) {
		c.Tokens[0].CORSOrigins = []string{"https://player.example"}
		c.Tokens = append(c.Tokens, Token{Name: "widget", Token: widget, CORSOrigins: []string{"https://widget.example"}})
		c.CORSOrigins = []string{"https://everyone.example"}
	})
	cases := []struct {
		method, origin, token string
		want                  bool
	}{
		{http.MethodOptions, "https://player.example", "", true},
		{http.MethodOptions, "https://widget.example", "", true},
		{http.MethodOptions, "https://everyone.example", "", true},
		{http.MethodOptions, "https://evil.example", "", false},
		{http.MethodPost, "https://player.example", app, true},
		{http.MethodPost, "https://widget.example", app, false},
		{http.MethodPost, "https://everyone.example", app, true},
		{http.MethodPost, "https://widget.example", widget, true},
		{http.MethodPost, "https://player.example", widget, false},
		{http.MethodPost, "https://evil.example", app, false},
	}
	for _, c := range cases {
		if got := allowed(ts, c.method, c.origin, c.token); got != c.want {
			t.Errorf("%s from %s with token %q: allowed %v, want %v", c.method, c.origin, c.token, got, c.want)
		}
	}
	ts = newTestServer(t, func(c *Config) { c.CORSOrigins = []string{"*"} })
	if !allowed(ts, http.MethodOptions, "https://any.example", "") || !allowed(ts, http.MethodPost, "https://any.example", app) {
		t.Fatal(`"*" configured but not granted`)
	}
}

// TestPublicListenerServesOnlyEvents: metrics, readiness (which named the brokers) and
// profiling are for operators, on the admin listener; the public one answers /v1/events and a
// bare /healthz.
func TestPublicListenerServesOnlyEvents(t *testing.T) {
	ts := newTestServer(t, nil)
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	for _, path := range []string{"/metrics", "/readyz", "/debug/pprof/", "/debug/pprof/heap"} {
		if status, _ := get(ts.URL + path); status != http.StatusNotFound {
			t.Errorf("public %s: status %d, want 404", path, status)
		}
	}
	if status, body := get(ts.URL + "/healthz"); status != 200 || body != "ok\n" {
		t.Errorf("public /healthz: %d %q", status, body)
	}
}

// TestAdminListener: the operators' routes answer on AdminHandler, and /readyz names no broker.
func TestAdminListener(t *testing.T) {
	s, _ := newTestCollector(t, nil)
	admin := httptest.NewServer(s.AdminHandler())
	t.Cleanup(admin.Close)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	if status, body := get("/metrics"); status != 200 || !strings.Contains(body, "earshot_collector_events_accepted_total") {
		t.Errorf("/metrics: %d", status)
	}
	if status, _ := get("/debug/pprof/"); status != 200 {
		t.Errorf("/debug/pprof/: %d", status)
	}
	if status, body := get("/healthz"); status != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", status, body)
	}
	if status, body := get("/readyz"); status != http.StatusServiceUnavailable || strings.Contains(body, "127.0.0.1") || strings.Contains(body, ":1") {
		t.Errorf("/readyz with Kafka down: %d %q (must not name the broker)", status, body)
	}
}

// preflight sends a browser's CORS preflight for a POST from origin and returns the answer
// (its body closed).
func preflight(t *testing.T, url, origin string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, url+"/v1/events", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
