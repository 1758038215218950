package collector

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestIPLimiterEvictsLeastRecentlySeen: a full table used to be cleared wholesale, giving a
// blocked address its burst back as soon as enough new addresses showed up. Only the least
// recently seen entry may go.
func TestIPLimiterEvictsLeastRecentlySeen(t *testing.T) {
	l := newIPLimiter(rate.Limit(0.001), 3, 2)
	now := time.Unix(1_800_000_000, 0)
	for i := range 4 {
		if ok := l.allow("a", now); ok != (i < 3) {
			t.Fatalf("a, request %d: allowed %v", i, ok)
		}
	}
	if !l.allow("b", now) {
		t.Fatal("b refused")
	}
	if l.allow("a", now) {
		t.Fatal("a got its burst back")
	}
	// The table is full (a, b); c evicts b, the least recently seen, and a stays blocked.
	if !l.allow("c", now) {
		t.Fatal("c refused")
	}
	if l.allow("a", now) {
		t.Fatal("a got its burst back after the table filled")
	}
	if n := l.size(); n != 2 {
		t.Fatalf("table holds %d entries, want 2", n)
	}
	for i := range 100 {
		l.allow(string(rune('A'+i)), now)
	}
	if n := l.size(); n != 2 {
		t.Fatalf("table holds %d entries after 100 new addresses, want 2", n)
	}
}

// TestIPLimitBeforeAuthentication: requests without a valid token and preflights are limited
// per address too, so that an address cannot probe tokens or flood preflights at any rate.
func TestIPLimitBeforeAuthentication(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.Limits.IPRequestsPerSecond, c.Limits.IPBurst = 0.001, 3
		c.CORSOrigins = []string{"https://player.example"}
	})
	codes := map[int]int{}
	for range 10 {
		status, _, _ := post(t, ts.URL, validEvent, func(r *http.Request) { r.Header.Set("Authorization", "Bearer forged-token-0123456789") })
		codes[status]++
	}
	if codes[401] != 3 || codes[429] != 7 {
		t.Fatalf("forged tokens: status counts %v, want 3 × 401 and 7 × 429", codes)
	}

	ts = newTestServer(t, func(c *Config) {
		c.Limits.IPRequestsPerSecond, c.Limits.IPBurst = 0.001, 3
		c.CORSOrigins = []string{"https://player.example"}
	})
	codes = map[int]int{}
	for range 10 {
		codes[preflight(t, ts.URL, "https://player.example").StatusCode]++
	}
	if codes[204] != 3 || codes[429] != 7 {
		t.Fatalf("preflights: status counts %v, want 3 × 204 and 7 × 429", codes)
	}
}

// TestForwardedForTrustsOnlyProxies: the client address is the right-most X-Forwarded-For
// hop that is not a trusted proxy, and X-Forwarded-For counts only from a trusted peer; a
// client that varies the entries it writes itself cannot escape its limit, and clients behind
// the proxy are told apart.
func TestForwardedForTrustsOnlyProxies(t *testing.T) {
	f := func(name string, trusted []string, xff func(i int) string, want400 int) {
		t.Helper()
		ts := newTestServer(t, func(c *Config) {
			c.Limits.IPRequestsPerSecond, c.Limits.IPBurst = 0.001, 2
			c.TrustedProxies = trusted
		})
		codes := map[int]int{}
		for i := range 6 {
			status, _, _ := post(t, ts.URL, `{"event_id":"e"}`, func(r *http.Request) { r.Header.Set("X-Forwarded-For", xff(i)) })
			codes[status]++
		}
		if codes[400] != want400 || codes[429] != 6-want400 {
			t.Errorf("%s: status counts %v, want %d × 400 and the rest 429", name, codes, want400)
		}
	}
	spoofed := func(i int) string { return fmt.Sprintf("10.0.0.%d, 9.9.9.9", i) }
	distinct := func(i int) string { return fmt.Sprintf("9.9.9.%d", i) }
	f("clients behind the proxy told apart", []string{"127.0.0.0/8"}, distinct, 6)
	f("IPv6 clients behind the proxy told apart by /64", []string{"127.0.0.0/8"}, func(i int) string { return fmt.Sprintf("2001:db8:%d::1", i) }, 6)
	f("one IPv6 /64 is one client", []string{"127.0.0.0/8"}, func(i int) string { return fmt.Sprintf("2001:db8::%d", i) }, 2)
	f("client spoofs the first entry", []string{"127.0.0.0/8"}, spoofed, 2)
	f("two trusted hops", []string{"127.0.0.1", "192.168.0.0/16"}, func(i int) string { return spoofed(i) + ", 192.168.1.1" }, 2)
	f("no trusted proxies: X-Forwarded-For ignored", nil, distinct, 2)
	f("peer is not a trusted proxy", []string{"192.168.0.0/16"}, distinct, 2)
	f("garbage hop: the proxy that wrote it is the client", []string{"127.0.0.0/8"}, func(i int) string { return fmt.Sprintf("9.9.9.%d, junk%d", i, i) }, 2)
}
