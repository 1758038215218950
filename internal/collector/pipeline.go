package collector

import (
	"bytes"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/pseudo"
	"github.com/earshot/earshot/pkg/event"
)

// Reasons an otherwise valid event is not forwarded. Like event.Reason values they are
// counted in earshot_collector_events_dropped_total{reason} and reported per event.
const (
	// ReasonDeclaredBot: the User-Agent declares a bot or crawler (GIVT).
	ReasonDeclaredBot event.Reason = "givt_declared_bot"
	// ReasonImpossibleRate: the listener sent more events than a player can (GIVT).
	ReasonImpossibleRate event.Reason = "givt_impossible_rate"
	// ReasonStreamNotAllowed: the token is limited to other streams.
	ReasonStreamNotAllowed event.Reason = "stream_not_allowed"
	// ReasonBadTicket: the listener's ticket is malformed, was not signed for this stream and
	// listener with a configured key, or has expired (the message says which; tickets.go). The
	// reason validation gives a ticket that is not a string of 1 to 256 bytes, too. Unlike the
	// others here it is a client error, counted as rejected.
	ReasonBadTicket = event.ReasonBadTicket
	// ReasonTicketRequired: listener_auth is signed for the token and the event has no ticket;
	// a client error, counted as rejected.
	ReasonTicketRequired event.Reason = "ticket_required"
	// ReasonEndNotAllowed: an end event from a token without trusted_time. Ending a stream makes
	// its figures final at once, so only imports and replays may do it; a live stream ends by
	// the clock (docs/time.md).
	ReasonEndNotAllowed event.Reason = "end_not_allowed"
	// ReasonDisplayedNotAllowed: a displayed event from a token without platform. The displayed
	// count is what claims are checked against, so only the platform's own backend may send it.
	ReasonDisplayedNotAllowed event.Reason = "displayed_not_allowed"
	// ReasonStreamQuota: a new stream beyond the collector's stream admission for tokens not
	// scoped to streams (limits.max_active_streams, limits.new_streams_per_minute).
	ReasonStreamQuota event.Reason = "stream_quota"
)

// ItemError reports one rejected event of a request.
type ItemError struct {
	Index   int          `json:"index"`
	Reason  event.Reason `json:"reason"`
	Message string       `json:"message"`
}

// Response is the JSON body the collector answers with.
type Response struct {
	Accepted int         `json:"accepted"`
	Rejected int         `json:"rejected"`
	Errors   []ItemError `json:"errors"`
	// Error explains a request-level failure (401, 413, 429, 503, ...).
	Error string `json:"error,omitempty"`
	// ErrorsTruncated says Errors lists only the first limits.max_reply_errors rejections;
	// ErrorCounts then counts all of them by reason.
	ErrorsTruncated bool                 `json:"errors_truncated,omitempty"`
	ErrorCounts     map[event.Reason]int `json:"error_counts,omitempty"`
}

// Batch is the outcome of converting one request body: Kafka messages for the accepted events
// and the response. Reuse it (Reset) to keep conversion free of allocations.
type Batch struct {
	// Msgs holds one message per accepted event, in request order. The message of an end event
	// is for every partition (PartitionHeader): Producer.Write copies it to each.
	Msgs     []kafkago.Message
	Resp     Response
	Invalid  int // rejected by validation (client errors)
	Filtered int // valid but filtered (GIVT, stream not allowed)
	buf      []byte
	ends     []int
	// counts holds every rejection by reason, also those beyond the first maxErrors that
	// Resp.Errors lists: few distinct reasons, so a slice searched in order.
	counts    []ReasonCount
	maxErrors int
	// charges are the per-listener budgets the accepted events spent, and now when (unix ms),
	// so that Pipeline.Refund can give them back when the events are not forwarded after all.
	charges []charge
	now     int64
	// lastStream is a copy of the stream id last asked of the stream admission.
	lastStream []byte
}

type charge struct {
	key uint64
	at  int64
	win int64 // the arrival window it was counted in
}

// ReasonCount is how many events of a request were rejected for one reason.
type ReasonCount struct {
	Reason event.Reason
	N      int
}

// Counts returns every rejection of the request by reason (owned by b, valid until Reset).
func (b *Batch) Counts() []ReasonCount { return b.counts }

// Reset empties b for reuse.
func (b *Batch) Reset() {
	b.Msgs = b.Msgs[:0]
	b.Resp = Response{Errors: b.Resp.Errors[:0]}
	b.Invalid, b.Filtered = 0, 0
	b.buf = b.buf[:0]
	b.ends = b.ends[:0]
	b.counts = b.counts[:0]
	b.charges = b.charges[:0]
}

// Source describes who sent a request, as the pipeline needs it.
type Source struct {
	Streams     map[string]bool // nil: any stream
	TrustedTime bool
	Platform    bool // the token may send displayed events
	Bot         bool // the User-Agent declares a bot
	// ListenerAuth is the token's listener_auth; "" follows the config's.
	ListenerAuth AuthMode
	// Client is a 64-bit hash of the client's address (0 when unknown).
	Client uint64
}

// Pipeline turns request bodies into Kafka records: parse, validate, derive event time,
// filter, pseudonymize, encode. It is safe for concurrent use.
type Pipeline struct {
	hasher *pseudo.Hasher
	// Time limits in milliseconds (Config.Limits).
	maxSkewMS, toleranceMS, maxAgeMS int64
	maxEvents, maxErrors             int
	rates                            *listenerRates
	auth                             listenerAuth
	streams                          *streamAdmission
}

// NewPipeline builds a Pipeline from the config.
func NewPipeline(cfg Config) (*Pipeline, error) {
	var prev *pseudo.Key
	if cfg.Hash.PreviousKey != "" {
		prev = &pseudo.Key{ID: cfg.Hash.PreviousKeyID, Secret: []byte(cfg.Hash.PreviousKey)}
	}
	h, err := pseudo.New(pseudo.Key{ID: cfg.Hash.KeyID, Secret: []byte(cfg.Hash.Key)}, prev, cfg.Hash.PreviousUntil)
	if err != nil {
		return nil, err
	}
	auth, err := newListenerAuth(cfg)
	if err != nil {
		return nil, err
	}
	return &Pipeline{
		hasher:      h,
		maxSkewMS:   cfg.Limits.MaxSkew.Milliseconds(),
		toleranceMS: cfg.Limits.ClockTolerance.Milliseconds(),
		maxAgeMS:    cfg.Limits.MaxEventAge.Milliseconds(),
		maxEvents:   cfg.Limits.MaxEventsPerRequest,
		maxErrors:   cfg.Limits.MaxReplyErrors,
		rates:       newListenerRates(cfg.Limits.ListenerEventsPerWindow, cfg.Limits.ListenerWindow, cfg.Limits.MaxTrackedListeners),
		auth:        auth,
		streams:     newStreamAdmission(cfg.Limits.MaxActiveStreams, cfg.Limits.StreamIdle, cfg.Limits.NewStreamsPerMinute),
	}, nil
}

// Convert fills b from body. A non-nil error means the body as a whole is malformed (an array
// with a syntax error): nothing in it may be forwarded.
func (p *Pipeline) Convert(body []byte, src Source, receivedAt time.Time, b *Batch) error {
	now := receivedAt.UnixMilli()
	b.maxErrors, b.now = p.maxErrors, now
	var rec event.Record
	// Events of one request mostly share a stream: the last admission decision is kept so the
	// shared table is asked once per stream and request. The stream id is copied, not aliased:
	// the parser does not promise that an event's bytes outlive it.
	haveLast, lastAdmitted := false, false
	err := event.ParseBody(body, func(i int, e *event.Event, r event.Reason) {
		if i >= p.maxEvents {
			// The rest of an oversized batch is refused whole, and only its first event is
			// listed (the rest are counted, in error_counts): one entry says it all.
			b.Invalid++
			if i == p.maxEvents {
				b.reject(i, event.ReasonTooManyEventsInReq)
			} else {
				b.Resp.Rejected++
				b.Resp.ErrorsTruncated = true
				b.count(event.ReasonTooManyEventsInReq, 1)
			}
			return
		}
		var field string
		if r == "" {
			r, field = event.ValidateField(e)
		}
		if r != "" {
			b.Invalid++
			b.rejectField(i, r, field)
			return
		}
		// What this sender may not send at all is said before anything about the event's time.
		switch {
		case src.Bot:
			r = ReasonDeclaredBot
		case src.Streams != nil && !src.Streams[string(e.StreamID)]:
			r = ReasonStreamNotAllowed
		case e.Type == event.TypeEnd && !src.TrustedTime:
			r = ReasonEndNotAllowed
		case e.Type == event.TypeDisplayed && !src.Platform:
			r = ReasonDisplayedNotAllowed
		}
		if r != "" {
			b.Filtered++
			b.reject(i, r)
			return
		}
		// Before the rate check, so that forged events cannot use up a real listener's rate.
		authFlags, r, msg := p.auth.check(e, src.ListenerAuth, receivedAt)
		if r != "" {
			b.rejectTicket(i, r, msg)
			return
		}
		at, timeFlags, r := p.eventTime(e, src.TrustedTime, now)
		if r != "" {
			b.Invalid++
			b.reject(i, r)
			return
		}
		// Tokens scoped to streams and trusted_time tokens name their streams explicitly; the
		// others are held to the collector's stream quota.
		if src.Streams == nil && !src.TrustedTime {
			if !haveLast || !bytes.Equal(e.StreamID, b.lastStream) {
				b.lastStream = append(b.lastStream[:0], e.StreamID...)
				haveLast, lastAdmitted = true, p.streams.admit(e.StreamID, now)
			}
			if !lastAdmitted {
				b.Filtered++
				b.reject(i, ReasonStreamQuota)
				return
			}
		}
		p.record(e, at, timeFlags|authFlags, now, &rec)
		// Trusted tokens import or replay recorded streams at any speed: the per-listener rate
		// of a live player does not apply to them. The budget is checked last, so that only
		// events that passed everything else spend it, and per client address, so that
		// anyone's events posted under a known listener id cannot spend the real player's.
		if e.Type != event.TypeDisplayed && !src.TrustedTime {
			key := budgetKey(rec.Listener, src.Client)
			ok, counted, win := p.rates.allow(key, rec.EventTime, now)
			if !ok {
				b.Filtered++
				b.reject(i, ReasonImpossibleRate)
				return
			}
			if counted {
				b.charges = append(b.charges, charge{key, rec.EventTime, win})
			}
		}
		b.buf = event.AppendRecord(b.buf, &rec)
		b.ends = append(b.ends, len(b.buf))
	})
	if err != nil {
		p.Refund(b) // nothing of a malformed body is forwarded
		return err
	}
	b.Resp.Accepted = len(b.ends)
	if b.Resp.ErrorsTruncated {
		b.Resp.ErrorCounts = make(map[event.Reason]int, len(b.counts))
		for _, c := range b.counts {
			b.Resp.ErrorCounts[c.Reason] = c.N
		}
	}
	b.messages()
	return nil
}

func (b *Batch) reject(i int, r event.Reason) { b.rejectField(i, r, "") }

// rejectField records event i as rejected for r, about the named field (event.ValidateField)
// when r's message depends on it: counted always, listed while the reply holds fewer than
// maxErrors entries, so that the reply stays small whatever the body holds.
func (b *Batch) rejectField(i int, r event.Reason, field string) {
	msg, ok := filterMessages[r]
	if !ok {
		msg = r.MessageFor(field)
	}
	b.list(i, r, msg)
}

// list counts event i as rejected for r, and lists it with msg while the reply holds fewer than
// maxErrors entries.
func (b *Batch) list(i int, r event.Reason, msg string) {
	b.Resp.Rejected++
	b.count(r, 1)
	if len(b.Resp.Errors) >= b.maxErrors {
		b.Resp.ErrorsTruncated = true
		return
	}
	b.Resp.Errors = append(b.Resp.Errors, ItemError{Index: i, Reason: r, Message: msg})
}

func (b *Batch) count(r event.Reason, n int) {
	for i := range b.counts {
		if b.counts[i].Reason == r {
			b.counts[i].N += n
			return
		}
	}
	b.counts = append(b.counts, ReasonCount{r, n})
}

var filterMessages = map[event.Reason]string{
	ReasonDeclaredBot:         "filtered as invalid traffic: the User-Agent declares a bot",
	ReasonImpossibleRate:      "filtered as invalid traffic: more events from this listener than a player sends",
	ReasonStreamNotAllowed:    "this token may not post to this stream",
	ReasonEndNotAllowed:       "only a token with trusted_time may end a stream",
	ReasonDisplayedNotAllowed: "only a platform token may send displayed events",
	ReasonStreamQuota:         "too many streams for tokens not scoped to streams; retry later or use a token scoped to this stream",
}

// Refund gives back the per-listener budgets b's events spent, when they were not forwarded
// after all (the token's rate, Kafka unavailable): the client's retry is charged instead.
func (p *Pipeline) Refund(b *Batch) {
	for _, c := range b.charges {
		p.rates.release(c.key, c.at, c.win)
	}
	b.charges = b.charges[:0]
}

// budgetKey is the key of a listener's budget as seen from one client address: the listener
// key mixed with a bijective scramble of the address hash (the SplitMix64 finalizer), so that
// for one address every listener keeps its own budget, and an unknown address (0) leaves the
// listener key as it is.
func budgetKey(listener, client uint64) uint64 {
	z := client
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return listener ^ (z ^ z>>31)
}

// messages slices the encoded records out of buf once it no longer moves. The Kafka key is the
// record's listener key (bytes 4..12 of the record, see docs/record.md); an end record (type,
// byte 1) is marked for every partition.
func (b *Batch) messages() {
	start := 0
	for _, end := range b.ends {
		v := b.buf[start:end:end]
		m := kafkago.Message{Key: v[4:12], Value: v}
		if event.Type(v[1]) == event.TypeEnd {
			m.Headers = forEveryPartition
		}
		b.Msgs = append(b.Msgs, m)
		start = end
	}
}

// eventTime derives the event time of a valid event, with the flags that say how, by the table
// "Event time (collector)" of docs/time.md, or returns the reason to reject the event. now is
// the collector's clock (received), in unix ms.
func (p *Pipeline) eventTime(e *event.Event, trusted bool, now int64) (at int64, flags uint8, r event.Reason) {
	switch {
	case trusted:
		if e.TSMillis > now+p.maxSkewMS {
			return 0, 0, event.ReasonTSInFuture
		}
		return e.TSMillis, event.FlagTrustedTime, ""
	case e.HasSentAt:
		// ts and sent_at come from the same clock, so ts − sent_at does not depend on its offset,
		// nor on when a copy of the request arrives: a retry is judged as its first attempt.
		if e.TSMillis > e.SentAtMillis+p.maxSkewMS {
			return 0, 0, event.ReasonTSInFuture
		}
		c := clockCorrection(now-e.SentAtMillis, p.toleranceMS)
		at = e.TSMillis + c
		if at < now-p.maxAgeMS {
			return 0, 0, event.ReasonTSTooOld
		}
		if c != 0 {
			flags = event.FlagClockCorrected
		}
		return at, flags, ""
	}
	if e.TSMillis > now+p.maxSkewMS {
		return 0, 0, event.ReasonTSInFuture
	}
	if lo := now - p.maxSkewMS; e.TSMillis < lo || e.TSMillis > now {
		return min(max(e.TSMillis, lo), now), event.FlagTSClamped, ""
	}
	return e.TSMillis, 0, ""
}

// clockCorrection turns a measured offset c = received − sent_at (ms) into the correction added
// to ts: 0 below the tolerance (network delay, not a wrong clock), otherwise c rounded to whole
// seconds, half away from zero. The rounding makes every copy of an event land at the same
// millisecond, although each copy has its own sent_at and received and so its own c: copies
// differ only by their network delays, far less than the half second that would change the
// rounded value (unless c sits right at a rounding boundary or at the tolerance).
func clockCorrection(c, toleranceMS int64) int64 {
	switch {
	case -toleranceMS < c && c < toleranceMS:
		return 0
	case c < 0:
		return -((-c + 500) / 1000 * 1000)
	}
	return (c + 500) / 1000 * 1000
}

// record fills rec from a valid event, its event time and time flags: listener key,
// fingerprint, fields.
func (p *Pipeline) record(e *event.Event, at int64, timeFlags uint8, now int64, rec *event.Record) {
	*rec = event.Record{
		Type:           e.Type,
		Flags:          timeFlags,
		Fingerprint:    event.Fingerprint(e.EventID),
		EventTime:      at,
		ReceivedAt:     now,
		PlayedMS:       uint32(e.PlayedMS),
		StalledMS:      uint32(e.StalledMS),
		StreamID:       e.StreamID,
		ErrorCode:      e.ErrorCode,
		DisplayedCount: uint64(e.DisplayedCount),
		Client:         e.Client,
	}
	switch {
	case e.Type == event.TypeEnd:
		rec.Client = event.Client{} // a stream's end has no player
	case e.Muted:
		rec.Flags |= event.FlagMuted
	}
	if e.Type == event.TypeDisplayed || e.Type == event.TypeEnd {
		// No listener: key the platform counter by stream so one partition owns it. An end goes
		// to every partition, and is keyed the same way so that every record's key is its
		// listener key.
		rec.Listener = xxhash.Sum64(e.StreamID)
		return
	}
	rec.KeyID, rec.Listener = p.hasher.Hash(e.ListenerID, now)
}

// listenerRates counts events per budget key (a listener key seen from one client address,
// budgetKey) in fixed windows of *event* time: a player
// cannot produce more than `limit` events in one window of its own time. Counting by event time,
// not by arrival, lets a player that buffered through an outage send its backlog at once (docs/
// time.md) — each of its windows is still within the limit. So that old timestamps cannot buy a
// flood, a listener's events per arrival window are also capped, at backlogFactor × limit.
// Only the current arrival window's counts are kept, so memory follows the listeners active in
// it and never exceeds maxEntries. Sharded to keep lock contention low.
type listenerRates struct {
	limit    int
	windowMS int64
	maxPer   int
	shards   [64]rateShard
	// untracked counts events not rate-checked because the table was full.
	untracked atomic.Int64
}

type rateShard struct {
	mu     sync.Mutex
	window int64
	counts map[uint64]uint16
}

// backlogFactor: 12 × 30 events per 10 s lets a player deliver a 30-minute backlog of 10-s
// heartbeats (180 events) in one request, with room for joins, plays and errors.
const backlogFactor = 12

func newListenerRates(limit int, window time.Duration, maxEntries int) *listenerRates {
	r := &listenerRates{limit: limit, windowMS: window.Milliseconds(), maxPer: max(1, maxEntries/64)}
	for i := range r.shards {
		r.shards[i].counts = map[uint64]uint16{}
	}
	return r
}

// allow counts one event of listener, with event time atMillis, received at nowMillis, and
// reports whether it is within the limits, and whether it was counted (not when the table is
// full), and in which arrival window: only a counted event may be released, and only while
// that window lasts.
func (r *listenerRates) allow(listener uint64, atMillis, nowMillis int64) (ok, counted bool, window int64) {
	s := &r.shards[(listener>>32)%uint64(len(r.shards))]
	w := nowMillis / r.windowMS
	// The event window's count lives under the listener key mixed with the window; the
	// arrival window's total under the key itself.
	ew := listener ^ uint64(floorDivMS(atMillis, r.windowMS)+1)*0x9E3779B97F4A7C15
	s.mu.Lock()
	defer s.mu.Unlock()
	// The shard's window only moves forward: a request that started in an earlier window (its
	// body was slow) counts in the current one, rather than winding the shard back and clearing
	// every listener's counts for the next request to clear again.
	if w > s.window {
		s.window = w
		clear(s.counts)
	}
	c, ok := s.counts[ew]
	total := s.counts[listener]
	if !ok && len(s.counts)+2 > r.maxPer {
		r.untracked.Add(1)
		return true, false, 0 // fail open: a full table must not drop real listeners
	}
	if int(c) < r.limit && int(total) < backlogFactor*r.limit {
		s.counts[ew], s.counts[listener] = c+1, total+1
		return true, true, s.window
	}
	return false, false, 0
}

// release undoes one allow of listener that succeeded in the current arrival window; in a
// later window the counts are gone already.
func (r *listenerRates) release(listener uint64, atMillis, window int64) {
	s := &r.shards[(listener>>32)%uint64(len(r.shards))]
	ew := listener ^ uint64(floorDivMS(atMillis, r.windowMS)+1)*0x9E3779B97F4A7C15
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.window != window {
		return // counted in a window that has passed: its counts are gone
	}
	for _, k := range [2]uint64{ew, listener} {
		switch c := s.counts[k]; c {
		case 0:
		case 1:
			delete(s.counts, k)
		default:
			s.counts[k] = c - 1
		}
	}
}

func floorDivMS(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// listenerKey reads the listener key of an encoded record (for the balancer).
func listenerKey(key []byte) uint64 {
	if len(key) != 8 {
		return xxhash.Sum64(key)
	}
	return binary.LittleEndian.Uint64(key)
}
