//go:build soak

// Package soak is `make soak`: honest players and abusive clients against one collector at
// once, on loopback, for SOAK_DURATION (default 5 minutes). It is a benchmark, not a test of
// `make test`: it takes minutes of wall time and reports the collector's memory.
//
// What it holds the pipeline to: the collector's RSS stays under its budget, honest players
// get 200 to every request, and the honest stream's final figures equal the truth of the honest
// events alone (every one acknowledged, nothing the abusers sent counted).
package soak

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/internal/ticket"
	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/schema"
)

const (
	playerToken   = "soak-player-token-0123456789"   // ships in the web player: public
	partnerToken  = "soak-partner-token-0123456789"  // an unscoped app token, no tickets
	platformToken = "soak-platform-token-0123456789" // the platform's backend: displayed counts
	opsToken      = "soak-ops-token-0123456789"      // trusted: closes the stream at the end
	ticketKey     = "soak-ticket-key-0123456789abcdefghijkl"
	stream        = "soak-honest"
	collectorAddr = "127.0.0.1:18480"
	adminAddr     = "127.0.0.1:18481"
	aggAddr       = "127.0.0.1:18482"
	// rssBudget: limits.max_inflight_bytes (64 MiB of bodies in flight) and the Kafka buffer
	// (inflight_events 200 000 × ~100 bytes) above a ~40 MiB process.
	rssBudget = 160 << 20
)

func TestSoak(t *testing.T) {
	dur := 5 * time.Minute
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	broker, chAddr := testenv.Kafka(t), testenv.ClickHouse(t)
	topic, group := testenv.Name(t, "soak"), testenv.Name(t, "soak-group")
	ch := testenv.ClickHouseConfig(t)
	ctx := context.Background()
	conn, err := chconn.Open(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := schema.Apply(ctx, conn); err != nil {
		t.Fatal(err)
	}

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin, "./cmd/collector", "./cmd/aggregator")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfgFile := filepath.Join(bin, "collector.yaml")
	if err := os.WriteFile(cfgFile, []byte(collectorConfig(broker, topic)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "EARSHOT_HASH_KEY=soak-hashing-key-0123456789abcdefghij",
		"EARSHOT_KAFKA_BROKERS="+broker, "EARSHOT_KAFKA_TOPIC="+topic, "EARSHOT_KAFKA_PARTITIONS=4",
		"EARSHOT_CLICKHOUSE_ADDR="+chAddr, "EARSHOT_CLICKHOUSE_DATABASE="+ch.Database, "EARSHOT_GROUP="+group)
	col := start(t, env, filepath.Join(bin, "collector"), "--config", cfgFile)
	start(t, append(env, "EARSHOT_LISTEN="+aggAddr), filepath.Join(bin, "aggregator"))
	waitReady(t, "http://"+adminAddr+"/readyz")
	waitReady(t, "http://"+aggAddr+"/readyz")
	base := "http://" + collectorAddr

	sc := sim.DemoScenario(300)
	sc.StreamID, sc.Start, sc.Duration, sc.AudioDelay = stream, time.Now().Add(5*time.Second), dur, 20*time.Second
	sc.LateRate, sc.LateBy, sc.DuplicateRate, sc.DisplayedFactor = 0.03, 20*time.Second, 0.03, 1.3
	st := sim.Generate(sc)
	truth := sim.Oracle(st)

	rss := &sampler{pid: col.Process.Pid}
	runCtx, stopAbuse := context.WithCancel(ctx)
	go rss.run(runCtx)
	abuse := &abusers{base: base, honestIDs: listenerIDs(st)}
	var wg sync.WaitGroup
	abuse.start(runCtx, &wg)
	honest := play(t, base, st)
	stopAbuse()
	wg.Wait()

	// The stream is over: close it (a trusted token), so its figures are final now.
	ops := client.New(base, opsToken)
	if _, err := ops.SendBatch(ctx, []client.Event{st.End()}); err != nil {
		t.Fatalf("closing the stream: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := report.WaitFinal(wctx, conn, stream, 4); err != nil {
		t.Fatal(err)
	}
	r, err := report.Load(ctx, conn, stream, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	t.Logf("honest: %d requests, %d events, statuses %v %v", honest.requests.Load(), honest.events.Load(), honest.statuses(), honest.reasons)
	t.Logf("abusers: %s", abuse.summary())
	t.Logf("collector RSS: median %d MiB, max %d MiB (budget %d MiB), %d samples", rss.median()>>20, rss.max()>>20, rssBudget>>20, len(rss.samples))
	t.Logf("report: cume connected %v, authenticated %d of %d, played %d ms, trimmed %d ms", r.CumeConnected, r.Authenticated, r.Listed, r.PlayedMS, r.PlayedTrimmedMS)

	if bad := honest.nonOK(); bad > 0 {
		t.Errorf("honest players got %d answers other than 200: %v", bad, honest.statuses())
	}
	if rss.max() > rssBudget {
		t.Errorf("collector RSS reached %d MiB, budget %d MiB", rss.max()>>20, rssBudget>>20)
	}
	if abuse.maxReply.Load() > 64<<10 {
		t.Errorf("a reply of %d bytes to a small hostile body", abuse.maxReply.Load())
	}
	if r.Authenticated != r.Listed {
		t.Errorf("%d of %d listeners authenticated: forged listeners were counted", r.Authenticated, r.Listed)
	}
	if r.DisplayedMax != uint64(truth.DisplayedMax) {
		t.Errorf("displayed max %d, the platform showed %d: a forged displayed count got in", r.DisplayedMax, truth.DisplayedMax)
	}
	sim.Compare(t, truth, func(start int64) (sim.MinuteFigures, bool) {
		for _, m := range r.Minutes {
			if m.Start.UnixMilli() == start {
				return figures(m), true
			}
		}
		return sim.MinuteFigures{}, false
	})
}

func figures(m report.Minute) sim.MinuteFigures {
	return sim.MinuteFigures{Connected: m.Connected.Value, ConnectedLo: m.Connected.Lo, ConnectedHi: m.Connected.Hi,
		Hearing: m.Hearing.Value, HearingLo: m.Hearing.Lo, HearingHi: m.Hearing.Hi, Joins: m.Joins, Leaves: m.Leaves,
		Timeouts: m.Timeouts, Plays: m.Plays, Errors: m.Errors, Failures: m.StartFailures, PlayedMS: m.PlayedMS,
		MutedMS: m.MutedMS, PeakConcurrent: m.PeakConcurrent, PeakHearing: m.PeakHearing,
		DisplayedMax: m.DisplayedMax, DisplayedLast: m.DisplayedLast, HasDisplayed: m.HasDisplayed}
}

func collectorConfig(broker, topic string) string {
	return fmt.Sprintf(`listen: %q
admin_listen: %q
kafka: {brokers: [%q], topic: %q, partitions: 4}
trusted_proxies: ["127.0.0.1/32"]
listener_auth: off
ticket: {key: %q}
tokens:
  - {name: player, token: %q, listener_auth: signed}
  - {name: partner, token: %q}
  - {name: platform, token: %q, platform: true}
  - {name: ops, token: %q, trusted_time: true, streams: [%q]}
limits:
  max_inflight_bytes: 67108864
  max_active_streams: 1000
  new_streams_per_minute: 600
`, collectorAddr, adminAddr, broker, topic, ticketKey, playerToken, partnerToken, platformToken, opsToken, stream)
}

func start(t *testing.T, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	log, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			data, _ := os.ReadFile(log.Name())
			lines := strings.Split(string(data), "\n")
			t.Logf("last lines of %s:\n%s", filepath.Base(name), strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	})
	return cmd
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	for range 120 {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s never answered 200", url)
}

// forwardedFor sends every request as if a proxy at 127.0.0.1 had seen it come from ip (the
// collector trusts 127.0.0.1 as a proxy, so the right-most hop is the client's address).
type forwardedFor struct {
	chain string
	base  http.RoundTripper
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.chain)
	return f.base.RoundTrip(r)
}

func newClient(base, token, chain string) *client.Client {
	c := client.New(base, token)
	c.HTTP = &http.Client{Timeout: 30 * time.Second, Transport: forwardedFor{chain, http.DefaultTransport}}
	return c
}

// honestStats counts what the honest players were answered, first attempts and retries.
type honestStats struct {
	requests, events atomic.Int64
	mu               sync.Mutex
	status           map[int]int
	reasons          map[string]int // why, for answers other than 200
}

func (h *honestStats) add(code int, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status[code]++
	if code != http.StatusOK {
		h.reasons[fmt.Sprintf("%d %s", code, why)]++
	}
}

func (h *honestStats) statuses() map[int]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.status)
}

func (h *honestStats) nonOK() int {
	n := 0
	for code, c := range h.statuses() {
		if code != http.StatusOK {
			n += c
		}
	}
	return n
}

func listenerIDs(st *sim.Stream) []string {
	var ids []string
	for _, p := range st.Plans {
		ids = append(ids, p.ID)
	}
	return ids
}

// play sends the honest stream in real time: each batch at its send time, split per player,
// each player from its own address with its ticket on every event; the platform's displayed
// counts with the platform token.
func play(t *testing.T, base string, st *sim.Stream) *honestStats {
	h := &honestStats{status: map[int]int{}, reasons: map[string]int{}}
	key := []byte(ticketKey)
	expiry := time.Now().Add(24 * time.Hour)
	tickets := map[string]string{}
	for _, p := range st.Plans {
		tk, err := ticket.Sign(key, []byte(st.Scenario.StreamID), []byte(p.ID), expiry)
		if err != nil {
			t.Fatal(err)
		}
		tickets[p.ID] = tk
	}
	clients := map[string]*client.Client{}
	for i, p := range st.Plans {
		c := newClient(base, playerToken, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1))
		c.MaxRetries = 0 // an honest player must never be refused: count every answer
		clients[p.ID] = c
	}
	platform := newClient(base, platformToken, "10.9.0.1")
	platform.MaxRetries = 0
	var wg sync.WaitGroup
	for i, b := range st.Batches {
		if wait := time.Until(time.UnixMilli(st.SendAt[i])); wait > 0 {
			time.Sleep(wait)
		}
		byListener := map[string][]client.Event{}
		for _, e := range b {
			e.Ticket = tickets[e.ListenerID]
			byListener[e.ListenerID] = append(byListener[e.ListenerID], e)
		}
		for id, evs := range byListener {
			c := clients[id]
			if id == "" {
				c = platform
			}
			wg.Go(func() {
				h.requests.Add(1)
				r, err := c.SendBatch(context.Background(), evs)
				switch se := statusOf(err); {
				case err == nil && r.Rejected == 0:
					h.add(http.StatusOK, "")
					h.events.Add(int64(len(evs)))
				case err == nil:
					h.add(http.StatusOK, "")
					t.Errorf("honest batch with %d rejected: %+v", r.Rejected, r.Errors)
				case se != nil:
					h.add(se.Status, se.Body.Error)
				default:
					h.add(0, err.Error())
				}
			})
		}
	}
	wg.Wait()
	return h
}

func statusOf(err error) *client.StatusError {
	var se *client.StatusError
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// abusers run every attack of the issue at once until ctx ends.
type abusers struct {
	base      string
	honestIDs []string
	maxReply  atomic.Int64
	mu        sync.Mutex
	status    map[string]map[int]int
}

func (a *abusers) count(kind string, code int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.status == nil {
		a.status = map[string]map[int]int{}
	}
	if a.status[kind] == nil {
		a.status[kind] = map[int]int{}
	}
	a.status[kind][code]++
}

func (a *abusers) summary() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	kinds := make([]string, 0, len(a.status))
	for k := range a.status {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, "%s %v; ", k, a.status[k])
	}
	fmt.Fprintf(&b, "largest reply %d bytes", a.maxReply.Load())
	return b.String()
}

// raw posts body with headers and returns the status and the reply's size.
func (a *abusers) raw(ctx context.Context, kind, token, chain string, body []byte, gz bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", chain)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			a.count(kind, 0)
		}
		return
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for {
		m := a.maxReply.Load()
		if n <= m || a.maxReply.CompareAndSwap(m, n) {
			break
		}
	}
	a.count(kind, resp.StatusCode)
}

func every(ctx context.Context, wg *sync.WaitGroup, d time.Duration, f func(i int)) {
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			f(i)
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
	})
}

func (a *abusers) start(ctx context.Context, wg *sync.WaitGroup) {
	now := func() int64 { return time.Now().UnixMilli() }
	// Reply amplification: ~1 KB of gzip that decodes to 200 000 empty objects.
	var amp bytes.Buffer
	zw := gzip.NewWriter(&amp)
	zw.Write(bytes.Repeat([]byte("{}\n"), 200_000))
	zw.Close()
	every(ctx, wg, 200*time.Millisecond, func(i int) {
		a.raw(ctx, "amplify", playerToken, fmt.Sprintf("10.66.1.%d", i%200+1), amp.Bytes(), true)
	})
	// Stream ids minted with an unscoped token: beyond the quota, refused.
	every(ctx, wg, 100*time.Millisecond, func(i int) {
		var b strings.Builder
		for j := range 50 {
			fmt.Fprintf(&b, `{"event_id":"m%d-%d","type":"join","stream_id":"minted-%d-%d","listener_id":"x","ts":%d}`+"\n", i, j, i, j, now())
		}
		a.raw(ctx, "mint", partnerToken, fmt.Sprintf("10.66.2.%d", i%200+1), []byte(b.String()), false)
	})
	// A forged platform counter from the public player token.
	every(ctx, wg, 500*time.Millisecond, func(i int) {
		body := fmt.Sprintf(`{"event_id":"d%d","type":"displayed","stream_id":%q,"ts":%d,"displayed_count":60000000}`, i, stream, now())
		a.raw(ctx, "displayed", playerToken, "10.66.3.1", []byte(body), false)
	})
	// Stacked heartbeats in real listeners' names, without their tickets.
	every(ctx, wg, 300*time.Millisecond, func(i int) {
		id := a.honestIDs[i%len(a.honestIDs)]
		var b strings.Builder
		for j := range 30 {
			fmt.Fprintf(&b, `{"event_id":"s%d-%d","type":"heartbeat","stream_id":%q,"listener_id":%q,"ts":%d,"played_ms":600000}`+"\n", i, j, stream, id, now())
		}
		a.raw(ctx, "stack", playerToken, fmt.Sprintf("10.66.4.%d", i%200+1), []byte(b.String()), false)
	})
	// A flood from one address, claiming to be an honest player's address in X-Forwarded-For:
	// the right-most hop is what the proxy saw.
	for range 4 {
		every(ctx, wg, 0, func(i int) {
			body := fmt.Sprintf(`{"event_id":"f%d","type":"join","stream_id":"flood","listener_id":"f","ts":%d}`, i, now())
			a.raw(ctx, "flood", partnerToken, "10.1.0.1, 10.66.5.1", []byte(body), false)
		})
	}
	// Slow bodies: a byte a second on 20 connections.
	for k := range 20 {
		wg.Go(func() { a.slow(ctx, k) })
	}
	// Unauthenticated requests and preflights from one address.
	every(ctx, wg, 0, func(i int) {
		a.raw(ctx, "bad_token", "not-a-token-0123456789", "10.66.7.1", []byte(`{}`), false)
	})
}

func (a *abusers) slow(ctx context.Context, k int) {
	for ctx.Err() == nil {
		c, err := net.Dial("tcp", strings.TrimPrefix(a.base, "http://"))
		if err != nil {
			return
		}
		fmt.Fprintf(c, "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-Forwarded-For: 10.66.6.%d\r\nContent-Length: 1000000\r\n\r\n", partnerToken, k+1)
		go func() { <-ctx.Done(); c.Close() }()
		br := bufio.NewReader(c)
		done := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			done <- line
		}()
	write:
		for {
			select {
			case line := <-done:
				code, _ := strconv.Atoi(strings.Fields(line + " 0 0")[1])
				a.count("slow", code)
				break write
			case <-ctx.Done():
				break write
			case <-time.After(time.Second):
				if _, err := c.Write([]byte{'{'}); err != nil {
					a.count("slow", 0)
					break write
				}
			}
		}
		c.Close()
	}
}

// sampler reads the collector's resident set size every second.
type sampler struct {
	pid     int
	mu      sync.Mutex
	samples []int64
}

func (s *sampler) run(ctx context.Context) {
	for ctx.Err() == nil {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid)); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					s.mu.Lock()
					s.samples = append(s.samples, kb<<10)
					s.mu.Unlock()
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (s *sampler) sorted() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.samples)
	slices.Sort(out)
	return out
}

func (s *sampler) median() int64 {
	v := s.sorted()
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

func (s *sampler) max() int64 {
	v := s.sorted()
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}
