package collector

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/earshot/earshot/internal/config"
	"github.com/earshot/earshot/internal/eventlog"
)

// Config is the collector's whole configuration (see cmd/collector and docs/operations.md).
type Config struct {
	// Listen is the public HTTP address: /v1/events and /healthz only.
	Listen string `mapstructure:"listen"`
	// AdminListen is the operators' address: /metrics, /healthz, /readyz and /debug/pprof/.
	// Loopback by default, because profiles and metrics reveal internals and cost CPU; port
	// 9464 (the Prometheus exporters' port) because the aggregator's default is 8081.
	AdminListen string          `mapstructure:"admin_listen"`
	Kafka       eventlog.Config `mapstructure:"kafka"`
	// Tokens are the ingest tokens. At least one is required.
	Tokens []Token    `mapstructure:"tokens"`
	Hash   HashConfig `mapstructure:"hash"`
	Limits Limits     `mapstructure:"limits"`
	// ListenerAuth says what events of a listener need: a signed ticket (signed), nothing but
	// count as authenticated with one (optional), or nothing (off). Tokens may override it.
	// Off by default: tickets need the platform's backend to issue them (tickets.go).
	ListenerAuth AuthMode   `mapstructure:"listener_auth"`
	Ticket       TicketKeys `mapstructure:"ticket"`
	// CORSOrigins lists the browser origins allowed to post events with any token; tokens add
	// their own (Token.CORSOrigins). Empty by default: a token's secret is public in any page
	// that uses it, so the origins that may use it should be named, with the token they use;
	// "*" (any origin) only when configured.
	CORSOrigins []string `mapstructure:"cors_origins"`
	// BotUserAgents are case-insensitive substrings of declared bots' User-Agent headers;
	// their events are filtered as GIVT (general invalid traffic) and counted, not forwarded.
	BotUserAgents []string `mapstructure:"bot_user_agents"`
	// TrustForwardedFor took the client IP from the first, client-set, X-Forwarded-For entry,
	// which let any client choose its address. It is kept only so that Validate can reject old
	// configs with a message pointing at TrustedProxies.
	TrustForwardedFor bool `mapstructure:"trust_forwarded_for"`
	// TrustedProxies lists the CIDRs (or single addresses) of the reverse proxies in front of
	// the collector. Only when the direct peer is one of them is X-Forwarded-For read, and the
	// client is its right-most hop that is not a trusted proxy: the entries left of that were
	// written by the client and prove nothing. Empty (the default) ignores X-Forwarded-For.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	// TickInterval is how often the collector writes its clock to every partition (a tick
	// record), which is how aggregators see ingest progress (docs/time.md); 0 disables ticks
	// (tests). Once a second moves the ingest clock in steps far below the 15-s lookback and
	// costs N collectors × partitions small records per second: 10 × 12 = 120/s.
	TickInterval time.Duration `mapstructure:"tick_interval"`
}

// Token is one ingest token.
type Token struct {
	// Name labels the token in logs and metrics (never the secret itself).
	Name string `mapstructure:"name"`
	// Token is the secret; TokenEnv names an environment variable holding it instead, so that
	// config files need not carry secrets.
	Token    config.Secret `mapstructure:"token"`
	TokenEnv string        `mapstructure:"token_env"`
	// Streams limits the token to these stream ids; empty allows any stream.
	Streams []string `mapstructure:"streams"`
	// TrustedTime keeps each event's own ts unclamped: for server-side imports, backfills and
	// replays of a past stream (SPEC, Definitions).
	TrustedTime bool `mapstructure:"trusted_time"`
	// Platform marks a server-side token of the streaming platform's own backend: only it may
	// send displayed events (the listener count the platform shows, which claims are checked
	// against). A player's token is public in every page or app that embeds it, so a count it
	// sends proves nothing. trusted_time implies nothing about it, nor it about trusted_time.
	Platform bool `mapstructure:"platform"`
	// CORSOrigins are the browser origins that may post with this token (see Config.CORSOrigins).
	CORSOrigins []string `mapstructure:"cors_origins"`
	// EventsPerSecond and Burst rate-limit the token; 0 uses limits.token_events_per_second.
	EventsPerSecond float64 `mapstructure:"events_per_second"`
	Burst           int     `mapstructure:"burst"`
	// ListenerAuth overrides the config's listener_auth for this token; "" follows it. A
	// server-side token of the platform, which sends only for listeners it knows, may be off.
	ListenerAuth AuthMode `mapstructure:"listener_auth"`
}

// HashConfig holds the pseudonymization keys (see internal/pseudo for rotation).
type HashConfig struct {
	// Key is the current secret (≥ 32 bytes), e.g. from EARSHOT_HASH_KEY.
	Key   config.Secret `mapstructure:"key"`
	KeyID uint8         `mapstructure:"key_id"`
	// PreviousKey, PreviousKeyID and PreviousUntil describe a rotation in progress: until
	// PreviousUntil every collector still hashes with the previous key.
	PreviousKey   config.Secret `mapstructure:"previous_key"`
	PreviousKeyID uint8         `mapstructure:"previous_key_id"`
	PreviousUntil time.Time     `mapstructure:"previous_until"`
}

// Limits bound what one client, one request and the whole process may use.
type Limits struct {
	// MaxBodyBytes bounds a request body as sent and after gzip: 1 MiB holds ~5 000 events of
	// ~200 bytes, far above a player's 10-second batch, and bounds a request's memory.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// MaxInflightBytes bounds what request bodies hold at once, process-wide: decoded bytes are
	// charged as they are read (so a slow body holds what it has sent, not what it declared),
	// the body is given back once converted and its encoded records are held until the reply;
	// when the budget is spent the collector answers 503 overloaded instead of reading on. 256 MiB is 256 full-size bodies or ~25 000 player
	// batches of 10 KB at once, and keeps a flood of slow bodies from growing the heap beyond
	// what a 1-GiB container holds.
	MaxInflightBytes int64 `mapstructure:"max_inflight_bytes"`
	// MaxEventsPerRequest rejects the rest of an oversized batch.
	MaxEventsPerRequest int `mapstructure:"max_events_per_request"`
	// MaxReplyErrors bounds the per-event errors listed in a reply; the rest are counted by
	// reason in error_counts. 100 entries (~10 KB of JSON) tell a client developer what is wrong,
	// while a 1-MiB body of `{}` lines would otherwise get ~27 MB back (a 27 000× amplifier).
	MaxReplyErrors int `mapstructure:"max_reply_errors"`
	// MaxSkew clamps the ts of events without sent_at into [received − max_skew, received], and
	// rejects events whose ts is more than max_skew ahead (ts_in_future; docs/time.md). 30 s
	// covers a phone clock that drifted and a request delayed by a slow network.
	MaxSkew time.Duration `mapstructure:"max_skew"`
	// ClockTolerance: with sent_at, a measured clock offset (received − sent_at) below it is
	// network delay and ignored; a larger one is corrected, rounded to whole seconds. 2 s is
	// above the time a player's request spends on the network, and small enough that a clock
	// off by more is corrected.
	ClockTolerance time.Duration `mapstructure:"clock_tolerance"`
	// MaxEventAge rejects events with sent_at whose corrected time is older (ts_too_old): keep it
	// equal to the aggregator's correction horizon (session.horizon, 30 min), beyond which such an
	// event could not be applied anyway.
	MaxEventAge time.Duration `mapstructure:"max_event_age"`
	// InflightEvents bounds events accepted but not yet acknowledged by Kafka; past it the
	// collector answers 503. 200 000 records × ~80 bytes ≈ 16 MB of buffer.
	InflightEvents int `mapstructure:"inflight_events"`
	// KafkaTimeout bounds one request's wait for Kafka acks before it answers 503.
	KafkaTimeout time.Duration `mapstructure:"kafka_timeout"`
	// TokenEventsPerSecond/TokenBurst: default per-token rate. 200 000 events/s ≈ 2M listeners
	// beating every 10 s; one token per app means one app cannot flood the collector.
	TokenEventsPerSecond float64 `mapstructure:"token_events_per_second"`
	TokenBurst           int     `mapstructure:"token_burst"`
	// IPRequestsPerSecond/IPBurst: per client IP. A player posts once per 10 s; 5/s with a
	// burst of 20 leaves room for NAT'd households and retries, and stops a flood.
	IPRequestsPerSecond float64 `mapstructure:"ip_requests_per_second"`
	IPBurst             int     `mapstructure:"ip_burst"`
	// MaxTrackedIPs bounds the per-IP limiter table (~200 bytes each: 100 000 ≈ 20 MB).
	MaxTrackedIPs int `mapstructure:"max_tracked_ips"`
	// ListenerEventsPerWindow in ListenerWindow: more events than this from one listener is
	// physically impossible for a player (one heartbeat per 10 s plus a few others) and is
	// filtered as GIVT. 30 per 10 s allows a 3× burst after a reconnect. Counted per listener
	// and client address, so that another address cannot spend a real player's budget.
	ListenerEventsPerWindow int           `mapstructure:"listener_events_per_window"`
	ListenerWindow          time.Duration `mapstructure:"listener_window"`
	// MaxTrackedListeners bounds the per-listener rate table per window (16 bytes each:
	// 4M ≈ 64 MB); listeners beyond it are not rate-checked (fail open, counted).
	MaxTrackedListeners int `mapstructure:"max_tracked_listeners"`
	// MaxActiveStreams, StreamIdle and NewStreamsPerMinute admit streams for tokens neither
	// scoped to streams nor trusted_time (admission.go); the others are refused stream_quota.
	// Each stream id costs the aggregators memory, and such a token can invent ids freely.
	// 10 000 streams seen within the last hour is far above what one platform runs live at once
	// (the table costs ~100 bytes a stream: 1 MB); an hour lets a stream pause (a break, an
	// outage) without losing its place; 600 new streams a minute (10/s) is beyond any
	// platform's rate of starting streams, and a flood of ids needs 17 minutes to fill the
	// table. The quota is per collector instance.
	MaxActiveStreams    int           `mapstructure:"max_active_streams"`
	StreamIdle          time.Duration `mapstructure:"stream_idle"`
	NewStreamsPerMinute int           `mapstructure:"new_streams_per_minute"`
	// ReadTimeout, WriteTimeout and IdleTimeout stop slow clients from holding connections.
	ReadTimeout  time.Duration `mapstructure:"read_timeout"`
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	IdleTimeout  time.Duration `mapstructure:"idle_timeout"`
	// ShutdownTimeout bounds the drain on SIGTERM.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
}

// DefaultConfig is the configuration `make demo` and the tests start from.
func DefaultConfig() Config {
	return Config{
		Listen:      "127.0.0.1:8080",
		AdminListen: "127.0.0.1:9464",
		Kafka:       eventlog.DefaultConfig(),
		Hash:        HashConfig{KeyID: 1},
		Limits: Limits{
			MaxBodyBytes:            1 << 20,
			MaxInflightBytes:        256 << 20,
			MaxEventsPerRequest:     10_000,
			MaxReplyErrors:          100,
			MaxSkew:                 30 * time.Second,
			ClockTolerance:          2 * time.Second,
			MaxEventAge:             30 * time.Minute,
			InflightEvents:          200_000,
			KafkaTimeout:            10 * time.Second,
			TokenEventsPerSecond:    200_000,
			TokenBurst:              400_000,
			IPRequestsPerSecond:     5,
			IPBurst:                 20,
			MaxTrackedIPs:           100_000,
			ListenerEventsPerWindow: 30,
			ListenerWindow:          10 * time.Second,
			MaxTrackedListeners:     4_000_000,
			MaxActiveStreams:        10_000,
			StreamIdle:              time.Hour,
			NewStreamsPerMinute:     600,
			ReadTimeout:             10 * time.Second,
			WriteTimeout:            20 * time.Second,
			IdleTimeout:             60 * time.Second,
			ShutdownTimeout:         30 * time.Second,
		},
		TickInterval:  time.Second,
		BotUserAgents: []string{"bot", "crawler", "spider", "slurp", "headlesschrome", "phantomjs", "facebookexternalhit", "preview"},
		ListenerAuth:  AuthOff,
	}
}

// Secret returns the token's secret, from TokenEnv when set.
func (t Token) Secret() string {
	if t.TokenEnv != "" {
		return os.Getenv(t.TokenEnv)
	}
	return t.Token.Value()
}

// Validate fails fast with a message that names the key.
func (c Config) Validate() error {
	if c.Listen == "" {
		return errors.New("listen must not be empty")
	}
	if c.AdminListen == "" || c.AdminListen == c.Listen {
		return errors.New("admin_listen must be set, and differ from listen")
	}
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if c.TickInterval < 0 {
		return errors.New("tick_interval must not be negative (0 disables ticks)")
	}
	if c.TrustForwardedFor {
		return errors.New("trust_forwarded_for was removed (it believed the X-Forwarded-For entry the client writes): list your reverse proxies' CIDRs in trusted_proxies instead")
	}
	if _, err := parseTrustedProxies(c.TrustedProxies); err != nil {
		return err
	}
	if err := checkOrigins("cors_origins", c.CORSOrigins); err != nil {
		return err
	}
	if len(c.Tokens) == 0 {
		return errors.New("tokens: at least one ingest token is required (EARSHOT_INGEST_TOKEN or tokens in a config file)")
	}
	seen := map[string]bool{}
	for i, t := range c.Tokens {
		s := t.Secret()
		switch {
		case t.Name == "":
			return fmt.Errorf("tokens[%d].name must not be empty", i)
		case len(s) < 16:
			return fmt.Errorf("tokens[%d] (%s): the secret (token or token_env) must be at least 16 characters", i, t.Name)
		case seen[s]:
			return fmt.Errorf("tokens[%d] (%s): the same secret is used twice", i, t.Name)
		case t.EventsPerSecond < 0 || t.Burst < 0:
			return fmt.Errorf("tokens[%d] (%s): events_per_second and burst must not be negative", i, t.Name)
		}
		if err := checkOrigins(fmt.Sprintf("tokens[%d].cors_origins", i), t.CORSOrigins); err != nil {
			return err
		}
		seen[s] = true
	}
	if len(c.Hash.Key) < 32 {
		return errors.New("hash.key must be at least 32 bytes (set EARSHOT_HASH_KEY)")
	}
	if c.Hash.PreviousKey != "" && c.Hash.PreviousUntil.IsZero() {
		return errors.New("hash.previous_until is required with hash.previous_key")
	}
	if err := c.validateListenerAuth(); err != nil {
		return err
	}
	l := c.Limits
	switch {
	case l.MaxBodyBytes <= 0:
		return errors.New("limits.max_body_bytes must be positive")
	case l.MaxInflightBytes < l.MaxBodyBytes:
		return errors.New("limits.max_inflight_bytes must be at least limits.max_body_bytes")
	case l.MaxEventsPerRequest <= 0:
		return errors.New("limits.max_events_per_request must be positive")
	case l.MaxReplyErrors <= 0:
		return errors.New("limits.max_reply_errors must be positive")
	case l.MaxSkew < 0:
		return errors.New("limits.max_skew must not be negative")
	case l.ClockTolerance < 0:
		return errors.New("limits.clock_tolerance must not be negative")
	case l.MaxEventAge <= 0:
		return errors.New("limits.max_event_age must be positive")
	case l.InflightEvents < l.MaxEventsPerRequest:
		return errors.New("limits.inflight_events must be at least limits.max_events_per_request")
	case l.KafkaTimeout <= 0:
		return errors.New("limits.kafka_timeout must be positive")
	case l.TokenEventsPerSecond <= 0 || l.TokenBurst <= 0:
		return errors.New("limits.token_events_per_second and limits.token_burst must be positive")
	case l.IPRequestsPerSecond <= 0 || l.IPBurst <= 0:
		return errors.New("limits.ip_requests_per_second and limits.ip_burst must be positive")
	case l.MaxTrackedIPs <= 0 || l.MaxTrackedListeners <= 0:
		return errors.New("limits.max_tracked_ips and limits.max_tracked_listeners must be positive")
	case l.ListenerEventsPerWindow <= 0 || l.ListenerWindow <= 0:
		return errors.New("limits.listener_events_per_window and limits.listener_window must be positive")
	case l.MaxActiveStreams <= 0:
		return errors.New("limits.max_active_streams must be positive")
	case l.StreamIdle <= 0:
		return errors.New("limits.stream_idle must be positive")
	case l.NewStreamsPerMinute <= 0:
		return errors.New("limits.new_streams_per_minute must be positive")
	case l.ReadTimeout <= 0 || l.WriteTimeout <= 0 || l.IdleTimeout <= 0 || l.ShutdownTimeout <= 0:
		return errors.New("limits.read_timeout, write_timeout, idle_timeout and shutdown_timeout must be positive")
	}
	return nil
}

// EnvToken is the environment variable that, when no tokens are configured, defines a single
// ingest token named "default" for any stream: the simplest secure setup.
const EnvToken = "EARSHOT_INGEST_TOKEN"

// WithEnvToken adds the EARSHOT_INGEST_TOKEN token when no tokens are configured.
func (c Config) WithEnvToken() Config {
	if len(c.Tokens) == 0 && os.Getenv(EnvToken) != "" {
		c.Tokens = []Token{{Name: "default", TokenEnv: EnvToken}}
	}
	return c
}
