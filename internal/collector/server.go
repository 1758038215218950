package collector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	kafkago "github.com/segmentio/kafka-go"
	"golang.org/x/time/rate"
)

// Server is the collector's HTTP front door.
type Server struct {
	cfg      Config
	log      *slog.Logger
	pipe     *Pipeline
	producer *Producer
	tokens   []tokenState
	ips      *ipLimiter
	proxies  trustedProxies
	inflight byteBudget
	bots     [][]byte
	// origins are allowed for every token; anyTokenOrigins also those of any token (preflights).
	origins, anyTokenOrigins originSet
	metrics                  *metrics
	registry                 *prometheus.Registry
	ticker                   *ticker
	ready                    readiness
	pool                     sync.Pool // *Batch
	bodies                   sync.Pool // *bytes.Buffer
}

type tokenState struct {
	name     string
	digest   [sha256.Size]byte
	streams  map[string]bool
	trusted  bool
	platform bool
	auth     AuthMode
	origins  originSet
	limiter  *rate.Limiter
}

// NewServer wires a Server. The caller owns producer's lifetime together with the Server's.
func NewServer(cfg Config, producer *Producer, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pipe, err := NewPipeline(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: log, pipe: pipe, producer: producer,
		ips:      newIPLimiter(rate.Limit(cfg.Limits.IPRequestsPerSecond), cfg.Limits.IPBurst, cfg.Limits.MaxTrackedIPs),
		registry: prometheus.NewRegistry(),
	}
	s.inflight.max = cfg.Limits.MaxInflightBytes
	for _, t := range cfg.Tokens {
		eps, burst := t.EventsPerSecond, t.Burst
		if eps == 0 {
			eps = cfg.Limits.TokenEventsPerSecond
		}
		if burst == 0 {
			burst = cfg.Limits.TokenBurst
		}
		ts := tokenState{name: t.Name, digest: sha256.Sum256([]byte(t.Secret())), trusted: t.TrustedTime, platform: t.Platform,
			auth: t.ListenerAuth, origins: newOriginSet(t.CORSOrigins), limiter: rate.NewLimiter(rate.Limit(eps), burst)}
		if len(t.Streams) > 0 {
			ts.streams = map[string]bool{}
			for _, st := range t.Streams {
				ts.streams[st] = true
			}
		}
		s.tokens = append(s.tokens, ts)
	}
	s.proxies, _ = parseTrustedProxies(cfg.TrustedProxies) // checked by Validate
	for _, b := range cfg.BotUserAgents {
		s.bots = append(s.bots, []byte(strings.ToLower(b)))
	}
	s.origins = newOriginSet(cfg.CORSOrigins)
	all := [][]string{cfg.CORSOrigins}
	for _, t := range cfg.Tokens {
		all = append(all, t.CORSOrigins)
	}
	s.anyTokenOrigins = newOriginSet(all...)
	s.metrics = newMetrics(s.registry, producer, pipe, s.ips, &s.inflight)
	s.ticker = newTicker(producer, cfg.TickInterval, log, s.metrics.ticks)
	s.ready = readiness{brokers: cfg.Kafka.Brokers}
	s.pool.New = func() any { return &Batch{} }
	s.bodies.New = func() any { return new(bytes.Buffer) }
	return s, nil
}

// RunTicks writes a tick record with the collector's clock to every partition every
// tick_interval until ctx ends (docs/time.md); with tick_interval 0 it returns at once. Run it
// beside the HTTP server, and let it return before closing the Producer.
func (s *Server) RunTicks(ctx context.Context) { s.ticker.run(ctx) }

// Handler returns the public routes (listen): /v1/events and a /healthz that says only "ok".
// Nothing else is exposed to clients.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/events", s.handleEvents)
	mux.HandleFunc("GET /healthz", healthz)
	return mux
}

// AdminHandler returns the operators' routes (admin_listen): /metrics, /healthz, /readyz and
// net/http/pprof under /debug/pprof/. They reveal the process's internals and let anyone start
// CPU profiles, so they are never on the public listener.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func healthz(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }

// AdminHTTPServer returns the http.Server for AdminHandler on admin_listen. Its write timeout
// leaves room for a 60-s CPU profile or trace.
func (s *Server) AdminHTTPServer() *http.Server {
	return &http.Server{
		Addr:              s.cfg.AdminListen,
		Handler:           s.AdminHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      65 * time.Second,
		IdleTimeout:       s.cfg.Limits.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
	}
}

// HTTPServer returns the public http.Server (Handler on listen) with the configured timeouts,
// so slow clients cannot hold connections open.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Addr:              s.cfg.Listen,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       s.cfg.Limits.ReadTimeout,
		WriteTimeout:      s.cfg.Limits.WriteTimeout,
		IdleTimeout:       s.cfg.Limits.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
	}
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The address is limited before anything else, preflights and bad tokens included, so that
	// no kind of request is free to repeat.
	clientKey := s.proxies.clientKey(r)
	if !s.ips.allow(clientKey, start) {
		s.fail(w, errRateLimitedIP)
		return
	}
	if r.Method == http.MethodOptions {
		s.preflight(w, r)
		return
	}
	tok := s.authenticate(r)
	originOK := s.allowOrigin(w, r, tok)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		s.fail(w, errMethod)
		return
	}
	if tok == nil {
		s.fail(w, errUnauthorized)
		return
	}
	if !originOK {
		s.fail(w, errOriginNotAllowed)
		return
	}
	// The decoded body is charged to limits.max_inflight_bytes as it is read, and given back
	// once it is converted; the encoded records are charged from then until the reply.
	buf := s.bodies.Get().(*bytes.Buffer)
	held, rerr := s.readBody(r, buf)
	releaseBody := func() {
		if buf != nil {
			s.inflight.release(held)
			s.putBody(buf)
			buf = nil
		}
	}
	defer releaseBody()
	if rerr != nil {
		s.fail(w, rerr)
		return
	}

	b := s.pool.Get().(*Batch)
	b.Reset()
	reuse := true
	defer func() {
		if reuse {
			s.putBatch(b)
		}
	}()
	src := Source{Streams: tok.streams, TrustedTime: tok.trusted, Platform: tok.platform, Bot: s.isBot(r.UserAgent()),
		Client: xxhash.Sum64String(clientKey), ListenerAuth: tok.auth}
	if err := s.pipe.Convert(buf.Bytes(), src, start, b); err != nil {
		s.fail(w, &requestError{http.StatusBadRequest, "malformed_body", err.Error(), 0})
		return
	}
	releaseBody()
	// Charged whether it fits or not: the work is done, and the records are smaller than the
	// body they replace.
	encoded := int64(len(b.buf))
	s.inflight.charge(encoded)
	defer s.inflight.release(encoded)
	for _, c := range b.Counts() {
		s.metrics.eventOutcome(c.Reason, c.N)
	}
	// The token is charged at admission, not at the request's start: a start time would wind
	// the limiter back by however long the body took, and credit those seconds again.
	if len(b.Msgs) > 0 && !tok.limiter.AllowN(time.Now(), len(b.Msgs)) {
		s.pipe.Refund(b)
		s.metrics.dropped.WithLabelValues(errRateLimitedToken.reason).Add(float64(len(b.Msgs)))
		s.fail(w, errRateLimitedToken)
		return
	}
	if len(b.Msgs) > 0 {
		kstart := time.Now()
		// Not the request's context: a client that hangs up while Kafka is writing must not make
		// the write look failed (kafka-go still writes what it queued), which would refund the
		// listeners' budgets for events that are in Kafka. The producer bounds the wait.
		err := s.producer.Write(context.WithoutCancel(r.Context()), b.Msgs)
		s.metrics.kafkaLatency.Observe(time.Since(kstart).Seconds())
		if err != nil {
			// kafka-go may still hold the messages (a batch queued before the deadline is
			// written later), so their buffer must not be reused for another request.
			reuse = false
			s.pipe.Refund(b)
			fe := forwardError(err)
			s.metrics.dropped.WithLabelValues(fe.reason).Add(float64(len(b.Msgs)))
			s.log.Warn("cannot forward events", "events", len(b.Msgs), "err", err)
			s.fail(w, fe)
			return
		}
		s.metrics.accepted.Add(float64(len(b.Msgs)))
	}
	status, retry := batchStatus(b)
	s.reply(w, status, retry, &b.Resp)
}

// authenticate finds the token in the Authorization header (Bearer), X-Earshot-Token, or the
// token query parameter (navigator.sendBeacon cannot set headers). Every configured token is
// compared, in constant time, so timing reveals neither which token matched nor how much of it.
func (s *Server) authenticate(r *http.Request) *tokenState {
	secret := r.Header.Get("X-Earshot-Token")
	if a := r.Header.Get("Authorization"); secret == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		secret = a[7:]
	}
	if secret == "" {
		secret = r.URL.Query().Get("token")
	}
	if secret == "" {
		return nil
	}
	d := sha256.Sum256([]byte(secret))
	var found *tokenState
	for i := range s.tokens {
		if subtle.ConstantTimeCompare(d[:], s.tokens[i].digest[:]) == 1 {
			found = &s.tokens[i]
		}
	}
	return found
}

// readBody reads the (optionally gzip-compressed) body into buf, enforcing the size limit
// before and after decompression.
//
// The decoded bytes are charged to limits.max_inflight_bytes as they are read: held is what to
// release, also when the read fails.
func (s *Server) readBody(r *http.Request, buf *bytes.Buffer) (held int64, rerr *requestError) {
	limit := s.cfg.Limits.MaxBodyBytes
	if r.ContentLength > limit {
		return 0, bodyTooLarge(limit)
	}
	return decodeBody(http.MaxBytesReader(nil, r.Body, limit), r.Header.Get("Content-Encoding"), limit, buf, &s.inflight)
}

// pooledBodyMax: body buffers up to this capacity go back to the pool. A request is charged its
// buffer's capacity (limits.max_inflight_bytes), so a pool of large buffers would make every
// small request cost a large one; 64 KiB holds a player's batch many times over, and larger
// bodies grow a buffer of their own, charged as they grow.
const pooledBodyMax = 64 << 10

func (s *Server) putBody(buf *bytes.Buffer) {
	if buf.Cap() <= pooledBodyMax {
		buf.Reset()
		s.bodies.Put(buf)
	}
}

func (s *Server) putBatch(b *Batch) {
	// Do not let references to the request body or Kafka messages outlive the request.
	clear(b.Msgs)
	s.pool.Put(b)
}

func (s *Server) isBot(ua string) bool {
	if ua == "" {
		return false
	}
	lower := []byte(strings.ToLower(ua))
	for _, b := range s.bots {
		if bytes.Contains(lower, b) {
			return true
		}
	}
	return false
}

// fail answers a request that failed as a whole; every such answer goes through here.
func (s *Server) fail(w http.ResponseWriter, e *requestError) {
	s.metrics.requests.WithLabelValues(strconv.Itoa(e.status), e.reason).Inc()
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	s.writeJSON(w, e.status, &Response{Errors: []ItemError{}, Error: e.msg})
}

// reply answers a request whose events were judged one by one; retryAfter > 0 sets Retry-After.
func (s *Server) reply(w http.ResponseWriter, status int, retryAfter time.Duration, resp *Response) {
	s.metrics.requests.WithLabelValues(strconv.Itoa(status), "").Inc()
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	if resp.Errors == nil {
		resp.Errors = []ItemError{}
	}
	s.writeJSON(w, status, resp)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Debug("cannot write response", "err", err)
	}
}

// readiness caches the last Kafka metadata check for two seconds, so /readyz probes do not
// hammer the brokers.
type readiness struct {
	brokers []string
	mu      sync.Mutex
	at      time.Time
	err     error
}

// check returns the last result, and whether it was checked just now.
func (rd *readiness) check(ctx context.Context) (fresh bool, err error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if time.Since(rd.at) < 2*time.Second {
		return false, rd.err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := &kafkago.Client{Addr: kafkago.TCP(rd.brokers...), Timeout: 2 * time.Second}
	_, rd.err = c.Metadata(ctx, &kafkago.MetadataRequest{})
	rd.at = time.Now()
	return true, rd.err
}

// handleReady answers whether Kafka is reachable. The answer names no broker and quotes no
// error (they carry internal addresses); the log has them, once per check.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if fresh, err := s.ready.check(r.Context()); err != nil {
		if fresh {
			s.log.Warn("not ready: cannot reach Kafka", "brokers", s.cfg.Kafka.Brokers, "err", err)
		}
		http.Error(w, "kafka unreachable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ok\n"))
}
