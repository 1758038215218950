package replay

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/pkg/event"
)

const testToken = "replay-token-0123456789"

// fault is what a fakeCollector does with one request instead of, or besides, judging it.
type fault struct {
	status int           // answer this (429, 503, ...) without judging the events
	lost   bool          // judge and record the events, then answer 503: the answer is lost
	delay  time.Duration // wait before judging
	hold   bool          // never answer: wait until the client gives up
}

// sent is one event as a fakeCollector accepted it.
type sent struct {
	id, typ, stream string
	ts              int64
}

// endSeen is an end event the fakeCollector accepted, with the ids of its stream's events it
// had accepted before it.
type endSeen struct {
	sent
	before int
}

// fakeCollector answers POST /v1/events as the collector does (SPEC, docs/operations.md): its
// events are judged by the collector's own pipeline (internal/collector) for a trusted_time,
// platform token, and the answer is 200 with {accepted, rejected, errors}, or 400/403 when no
// event was accepted. It records what it accepted; faults make it answer 429/503, lose answers
// or hold requests.
type fakeCollector struct {
	t    *testing.T
	srv  *httptest.Server
	pipe *collector.Pipeline
	stop chan struct{}

	inflight atomic.Int64 // requests being handled

	mu       sync.Mutex
	trusted  bool                            // the token has trusted_time
	fault    func(n int, ids []string) fault // nil: no faults; n counts requests from 0
	onAccept func()                          // called after a request's events were recorded
	requests int
	gzipped  int
	accepted []sent         // in order of acceptance, copies included
	count    map[string]int // event_id → times accepted
	streamOf map[string]string
	ends     []endSeen
}

func newFake(t *testing.T) *fakeCollector {
	t.Helper()
	cfg := collector.DefaultConfig()
	cfg.Hash.Key = "0123456789abcdef0123456789abcdef"
	pipe, err := collector.NewPipeline(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCollector{t: t, pipe: pipe, trusted: true, stop: make(chan struct{}), count: map[string]int{},
		streamOf: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(func() {
		close(f.stop)
		f.srv.Close()
	})
	return f
}

func (f *fakeCollector) handle(w http.ResponseWriter, r *http.Request) {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	if r.Method != http.MethodPost || r.URL.Path != "/v1/events" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		answer(w, http.StatusUnauthorized, collector.Response{Errors: []collector.ItemError{}, Error: "missing or unknown ingest token"})
		return
	}
	var body io.Reader = r.Body
	gz := r.Header.Get("Content-Encoding") == "gzip"
	if gz {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			answer(w, http.StatusBadRequest, collector.Response{Errors: []collector.ItemError{}, Error: "bad gzip"})
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		answer(w, http.StatusBadRequest, collector.Response{Errors: []collector.ItemError{}, Error: "bad body"})
		return
	}
	var events []sent
	_ = event.ParseBody(data, func(_ int, e *event.Event, _ event.Reason) {
		events = append(events, sent{id: string(e.EventID), typ: string(e.TypeName), stream: string(e.StreamID), ts: e.TSMillis})
	})
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.id
	}

	f.mu.Lock()
	n := f.requests
	f.requests++
	if gz {
		f.gzipped++
	}
	var act fault
	if f.fault != nil {
		act = f.fault(n, ids)
	}
	trusted := f.trusted
	f.mu.Unlock()

	switch {
	case act.hold:
		select {
		case <-r.Context().Done():
		case <-f.stop:
		}
		return
	case act.delay > 0:
		select {
		case <-time.After(act.delay):
		case <-r.Context().Done():
			return
		}
	}
	if act.status != 0 {
		answer(w, act.status, collector.Response{Errors: []collector.ItemError{}, Error: "fault"})
		return
	}
	b := &collector.Batch{}
	if err := f.pipe.Convert(data, collector.Source{TrustedTime: trusted, Platform: true}, time.Now(), b); err != nil {
		answer(w, http.StatusBadRequest, collector.Response{Errors: []collector.ItemError{}, Error: err.Error()})
		return
	}
	if b.Resp.ErrorsTruncated {
		f.t.Errorf("request %d: more rejections than a reply lists", n)
	}
	rejected := map[int]bool{}
	for _, e := range b.Resp.Errors {
		rejected[e.Index] = true
	}
	f.mu.Lock()
	for i, e := range events {
		if rejected[i] {
			continue
		}
		if e.typ == "end" {
			before := 0
			for _, st := range f.streamOf {
				if st == e.stream {
					before++
				}
			}
			f.ends = append(f.ends, endSeen{e, before})
			continue
		}
		f.accepted = append(f.accepted, e)
		f.count[e.id]++
		f.streamOf[e.id] = e.stream
	}
	onAccept := f.onAccept
	f.mu.Unlock()
	if onAccept != nil {
		onAccept()
	}
	status := http.StatusOK
	switch {
	case act.lost:
		answer(w, http.StatusServiceUnavailable, collector.Response{Errors: []collector.ItemError{}, Error: "answer lost"})
		return
	case b.Resp.Accepted > 0:
	case onlyReasons(b.Resp.Errors, collector.ReasonEndNotAllowed, collector.ReasonStreamNotAllowed):
		status = http.StatusForbidden
	default:
		status = http.StatusBadRequest
	}
	answer(w, status, b.Resp)
}

func onlyReasons(errs []collector.ItemError, reasons ...event.Reason) bool {
	for _, e := range errs {
		if !slices.Contains(reasons, e.Reason) {
			return false
		}
	}
	return len(errs) > 0
}

func answer(w http.ResponseWriter, status int, resp collector.Response) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(resp); err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// snapshot returns how often each event id was accepted, and the ends.
func (f *fakeCollector) snapshot() (map[string]int, []endSeen) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.count))
	for id, n := range f.count {
		out[id] = n
	}
	return out, slices.Clone(f.ends)
}

// quiesce waits until no request is being handled: those of a cancelled client may still be
// recording what they accepted.
func (f *fakeCollector) quiesce() {
	for deadline := time.Now().Add(10 * time.Second); f.inflight.Load() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			f.t.Fatal("requests still in flight after 10 s")
		}
	}
}

func (f *fakeCollector) setFault(fn func(n int, ids []string) fault) {
	f.mu.Lock()
	f.fault = fn
	f.mu.Unlock()
}
