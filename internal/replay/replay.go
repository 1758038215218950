// Package replay sends a recorded event log — a platform's export, a newsroom's capture: NDJSON,
// one event per line, optionally gzip-compressed — through a collector with a trusted_time
// token, so that a past stream is measured as if it had been live (SPEC, "Time, late events and
// duplicates": trusted tokens keep ts as sent), and then closes the replayed streams so their
// figures become final at once.
//
// Run reads the file once, in order, and sends it in batches (BatchEvents events or BatchBytes
// bytes of input, whichever comes first), Parallel requests at a time, through pkg/client, which
// gzips request bodies and retries 429, 503 and network errors with back-off.
//
// A replay can be interrupted (Ctrl-C, a crash, a collector outage longer than the retries) and
// run again: it resumes from a state file. Batches are answered out of order, so the state
// records the low-water mark — the input offset of the first line whose batch, or an earlier
// batch, has not been acknowledged — and a resumed run starts there. Events of batches after the
// mark that were acknowledged before the interruption are sent again; they are duplicates by
// event_id, which the aggregator counts once (SPEC: every figure is a function of the set of
// distinct events), so the figures equal those of an uninterrupted replay, and so do the counts
// of Summary, which the state carries for the acknowledged prefix.
//
// Lines that are not valid events are counted by reason, the first of them listed with their
// line numbers, and never sent: they are judged with the collector's own rules (pkg/event), so
// they are exactly the lines it would reject, and pkg/client's Event could not carry them
// faithfully anyway (a missing ts would become 0). Events the collector rejects are counted by
// its reasons. Neither stops the replay; only a failure of the whole request (a bad token, a
// body the collector refuses, retries exhausted) does.
package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/earshot/earshot/pkg/client"
)

// Options configures Run. Zero values take the defaults documented on each field.
type Options struct {
	// Collector is the collector's base URL, e.g. http://127.0.0.1:8080. Required.
	Collector string
	// Token is an ingest token with trusted_time (and platform if the log holds displayed
	// events). Without trusted_time the collector re-times every event to its arrival, so a past
	// stream's events are rejected ts_too_old, and it refuses the closing end events. Required.
	Token string
	// BatchEvents per request: 500 (pkg/client's default), requests of ~100 KB of event JSON.
	BatchEvents int
	// BatchBytes of input lines per request: 512 KiB, half the collector's default
	// limits.max_body_bytes (1 MiB, checked on the decompressed body), which leaves room for the
	// sent_at pkg/client adds to every event (~25 bytes). Requests are re-encoded from the parsed
	// events, so they are never larger than the lines they come from by more than that.
	BatchBytes int
	// Parallel requests in flight: 4. A request is answered once Kafka acknowledged its events
	// (acks=all); at ~10 ms a request, 4 × 500 events make ~200 000 events/s, the collector's
	// default rate per token (limits.token_events_per_second), past which it answers 429. More
	// would only be refused, and would take capacity from live players.
	Parallel int
	// MaxRetries per request for 429, 503 and network errors: 20. With the default back-off
	// (0.1 + 0.2 + … + 3.2 s, then 5 s, each jittered to 50–100 %) that bridges about a minute of
	// collector outage (at most 76 s, longer with Retry-After); after that Run stops, and
	// running it again resumes.
	MaxRetries int
	// MinBackoff and MaxBackoff bound pkg/client's exponential back-off between retries (with
	// jitter, and at least the collector's Retry-After): 100 ms and 5 s, pkg/client's defaults.
	MinBackoff, MaxBackoff time.Duration
	// StatePath is the state file; default: the input's path + ".replay-state". It is written
	// atomically (temporary file, then rename).
	StatePath string
	// StateInterval: 1 s. The state is written at most this often while the acknowledged prefix
	// advances, and at the end: a crash costs at most this much work, sent again on resume.
	StateInterval time.Duration
	// NoClose leaves the replayed streams open. By default Run ends every replayed stream once all
	// its events were acknowledged, with one end event per stream (docs/time.md: the explicit
	// close of a trusted stream), so that its figures are final at once rather than after
	// session.replay_idle. Set NoClose when more logs of the same streams follow; `earshot
	// streams close ID` ends them later.
	NoClose bool
	// Progress, if set, is called every ProgressInterval (1 s) and once more at the end with
	// Done set; never concurrently, and never after Run returned.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// HTTPClient defaults to pkg/client's (30 s timeout per attempt).
	HTTPClient *http.Client
}

// Defaults of Options; see the fields for why.
const (
	DefaultBatchEvents   = 500
	DefaultBatchBytes    = 512 << 10
	DefaultParallel      = 4
	DefaultMaxRetries    = 20
	DefaultStateInterval = time.Second
	// StateSuffix makes the default state path from the input's.
	StateSuffix = ".replay-state"
	// maxListed bounds the lines listed in Summary.MalformedLines and RejectedLines; all of them
	// are counted by reason.
	maxListed = 100
)

// DefaultOptions returns Options with every default filled in.
func DefaultOptions(collector, token string) Options {
	return Options{Collector: collector, Token: token, BatchEvents: DefaultBatchEvents, BatchBytes: DefaultBatchBytes,
		Parallel: DefaultParallel, MaxRetries: DefaultMaxRetries, MinBackoff: 100 * time.Millisecond,
		MaxBackoff: 5 * time.Second, StateInterval: DefaultStateInterval, ProgressInterval: time.Second}
}

// withDefaults fills the zero fields of o for the input at path.
func (o Options) withDefaults(path string) Options {
	d := DefaultOptions(o.Collector, o.Token)
	o.BatchEvents = cmp.Or(o.BatchEvents, d.BatchEvents)
	o.BatchBytes = cmp.Or(o.BatchBytes, d.BatchBytes)
	o.Parallel = cmp.Or(o.Parallel, d.Parallel)
	o.MaxRetries = cmp.Or(o.MaxRetries, d.MaxRetries)
	o.MinBackoff = cmp.Or(o.MinBackoff, d.MinBackoff)
	o.MaxBackoff = cmp.Or(o.MaxBackoff, d.MaxBackoff)
	o.StateInterval = cmp.Or(o.StateInterval, d.StateInterval)
	o.ProgressInterval = cmp.Or(o.ProgressInterval, d.ProgressInterval)
	o.StatePath = cmp.Or(o.StatePath, path+StateSuffix)
	return o
}

// Validate fails fast with a message that names the option.
func (o Options) Validate() error {
	switch {
	case o.Collector == "":
		return errors.New("replay: the collector URL is required")
	case o.Token == "":
		return errors.New("replay: a collector token with trusted_time is required")
	case o.BatchEvents < 0 || o.BatchBytes < 0 || o.Parallel < 0 || o.MaxRetries < 0:
		return errors.New("replay: batch events, batch bytes, parallel and max retries must not be negative")
	case o.StateInterval < 0 || o.ProgressInterval < 0 || o.MinBackoff < 0 || o.MaxBackoff < o.MinBackoff:
		return errors.New("replay: the intervals must not be negative, and the maximum back-off not below the minimum")
	}
	return nil
}

// Summary is what a Run did. Its counts cover the whole replay so far: the acknowledged prefix
// of earlier, interrupted runs (from the state file) and every batch this run had answered.
type Summary struct {
	Progress
	// Streams are the stream ids of the input, sorted.
	Streams []string
	// Closed are the streams whose end event the collector accepted (this run or an earlier one).
	Closed []string
	// RejectedByReason counts the events the collector rejected, by its reason.
	RejectedByReason map[string]int64
	// MalformedByReason counts the lines that were not valid events, by reason (event.Reason,
	// and "line_too_long").
	MalformedByReason map[string]int64
	// MalformedLines and RejectedLines list the first 100 of each, in input order.
	MalformedLines, RejectedLines []LineError
	// InputEnds counts end events found in the input. They are not sent where they stand: sent
	// while earlier batches are still in flight, an end would close its stream before their
	// events arrive (those would count too late). The stream is closed at the end instead, if
	// NoClose is not set.
	InputEnds int64
	// Resumed says the run continued an interrupted replay, from input offset ResumedAt
	// (uncompressed bytes, the start of line ResumedLine+1).
	Resumed                bool
	ResumedAt, ResumedLine int64
	// StatePath is the state file that records how far the replay got.
	StatePath string
}

// LineError is one input line that was not sent or not accepted.
type LineError struct {
	// Line is 1-based; Offset is the line's start in the uncompressed input.
	Line    int64  `json:"line"`
	Offset  int64  `json:"offset"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

// Sentinel errors that callers branch on.
var (
	// ErrStateMismatch: the state file belongs to another input, or the input changed before the
	// recorded offset. Delete the state file to replay from the start.
	ErrStateMismatch = errors.New("the replay state does not match the input")
	// ErrNotClosed: every event was acknowledged but the collector rejected some end events
	// (usually: the token lacks trusted_time).
	ErrNotClosed = errors.New("some streams could not be closed")
)

// Run replays the NDJSON file at path (gzip-compressed or not, told by its first bytes) through
// opts.Collector, resuming from opts.StatePath when it exists, and closes the replayed streams
// when all their events were acknowledged (unless opts.NoClose). A cancelled ctx stops it after
// saving the state; Run can then be called again. A finished replay keeps its state file, so
// running it again sends nothing (and closes what is still open); delete the state file to
// replay the input from the start. The Summary is filled also when an error is returned.
func Run(ctx context.Context, path string, opts Options) (Summary, error) {
	opts = opts.withDefaults(path)
	if err := opts.Validate(); err != nil {
		return Summary{}, err
	}
	meter := &meter{}
	in, err := openInput(path, &meter.bytesRead)
	if err != nil {
		return Summary{}, err
	}
	defer in.close()
	st, resumed, err := loadState(opts.StatePath, in.head)
	if err != nil {
		return Summary{StatePath: opts.StatePath}, err
	}
	if resumed {
		if err := in.skipTo(st.Offset, st.Line); err != nil {
			return Summary{StatePath: opts.StatePath}, fmt.Errorf("cannot resume from %s: %w", opts.StatePath, err)
		}
	}
	st.Input = path
	// Written before anything is sent, so that an unwritable state file fails now, not after
	// an hour of replay that could not be resumed.
	if err := saveState(opts.StatePath, st); err != nil {
		return Summary{StatePath: opts.StatePath}, err
	}
	meter.start(in.size, st.Line)

	c := client.New(opts.Collector, opts.Token)
	c.BatchSize = opts.BatchEvents
	c.Gzip = true
	c.MaxRetries = opts.MaxRetries
	c.MinBackoff, c.MaxBackoff = opts.MinBackoff, opts.MaxBackoff
	c.UserAgent = "earshot-replay/1"
	if opts.HTTPClient != nil {
		c.HTTP = opts.HTTPClient
	}

	r := &run{opts: opts, in: in, client: c, meter: meter,
		ledger: newLedger(st, 2*opts.Parallel)}
	sum, err := r.do(ctx)
	// A new state starts at offset 0, line 0.
	sum.Resumed, sum.ResumedAt, sum.ResumedLine, sum.StatePath = resumed, st.Offset, st.Line, opts.StatePath
	return sum, err
}

// run is one Run: the input, the ledger of batches and the client they go through.
type run struct {
	opts   Options
	in     *input
	client *client.Client
	meter  *meter
	ledger *ledger
}

// do reads, sends, saves and closes. The reader and the senders stop at the first fatal error
// (cause of ctx), or when ctx is cancelled; a read error lets the batches already read finish,
// so the state records them.
func (r *run) do(parent context.Context) (Summary, error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	fail := func(err error) { cancel(err) }

	stopSaver := r.startSaver(fail)
	stopProgress := r.startProgress()

	work := make(chan *batch)
	var senders sync.WaitGroup
	for range r.opts.Parallel {
		senders.Go(func() { r.sendLoop(ctx, fail, work) })
	}
	readErr := r.read(ctx, work)
	close(work)
	senders.Wait()

	err := stopSaver()
	if err == nil {
		err = readErr
	}
	if cause := context.Cause(ctx); err == nil && cause != nil {
		err = cause
	}
	if err != nil {
		st, _ := r.ledger.snapshot()
		err = fmt.Errorf("replay stopped at line %d (offset %d, recorded in %s; run again to resume): %w",
			st.Line+1, st.Offset, r.opts.StatePath, err)
	} else if !r.opts.NoClose {
		// Every batch was acknowledged: the senders return early only when ctx ends.
		err = r.closeStreams(ctx)
	}
	stopProgress()
	p := r.progress(true)
	if r.opts.Progress != nil {
		r.opts.Progress(p)
	}
	return r.summary(p), err
}

// summary assembles the Summary from the ledger.
func (r *run) summary(p Progress) Summary {
	t, streams, closed := r.ledger.totals()
	s := Summary{Progress: p, RejectedByReason: t.RejectedByReason, MalformedByReason: t.MalformedByReason,
		MalformedLines: t.MalformedLines, RejectedLines: t.RejectedLines, InputEnds: t.InputEnds}
	for id := range streams {
		s.Streams = append(s.Streams, id)
	}
	slices.Sort(s.Streams)
	s.Closed = closed
	return s
}
