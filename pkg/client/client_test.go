package client

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/pkg/event"
)

// attempt is one request a stubCollector received.
type attempt struct {
	at     time.Time // when it arrived
	status int       // what it was answered, 0 until then
	ids    []string  // its events' ids, in order
	sentAt []int64   // its events' sent_at (unix ms; -1 without)
	ticket []string  // its events' tickets ("" without)
}

// stubCollector stands in for the collector: it reads each request with the collector's own
// parser (pkg/event), answers with the next of its statuses (200 once they run out, or always
// down while down is set) and records every request.
type stubCollector struct {
	t  *testing.T
	ts *httptest.Server

	mu         sync.Mutex
	statuses   []int
	down       bool
	retryAfter string        // sent with 429 and 503
	hold       chan struct{} // if set, requests are answered once it is closed
	attempts   []attempt
}

func newStub(t *testing.T, statuses ...int) *stubCollector {
	s := &stubCollector{t: t, statuses: statuses, retryAfter: "1"}
	s.ts = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.ts.Close)
	return s
}

func (s *stubCollector) handle(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Content-Encoding") != "gzip" {
		s.t.Errorf("headers %v", r.Header)
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		s.t.Error(err)
		return
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		s.t.Error(err)
		return
	}
	a := attempt{at: time.Now()}
	if err := event.ParseBody(body, func(i int, e *event.Event, reason event.Reason) {
		if reason == "" {
			reason = event.Validate(e)
		}
		if reason != "" {
			s.t.Errorf("event %d: %s in %s", i, reason, body)
		}
		sentAt := int64(-1)
		if e.HasSentAt {
			sentAt = e.SentAtMillis
		}
		a.ids = append(a.ids, string(e.EventID))
		a.sentAt = append(a.sentAt, sentAt)
		a.ticket = append(a.ticket, string(e.Ticket))
	}); err != nil {
		s.t.Errorf("body: %v", err)
	}
	s.mu.Lock()
	n := len(s.attempts)
	s.attempts = append(s.attempts, a)
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	s.mu.Lock()
	a.status = http.StatusOK
	switch {
	case s.down:
		a.status = http.StatusServiceUnavailable
	case len(s.statuses) > 0:
		a.status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	s.attempts[n].status = a.status
	retryAfter := s.retryAfter
	s.mu.Unlock()
	if (a.status == 429 || a.status == 503) && retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(a.status)
	if a.status == 200 {
		w.Write([]byte(`{"accepted":` + strconv.Itoa(len(a.ids)) + `,"rejected":0,"errors":[]}`))
		return
	}
	w.Write([]byte(`{"accepted":0,"rejected":0,"errors":[],"error":"nope"}`))
}

func (s *stubCollector) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// seen returns a copy of the requests so far.
func (s *stubCollector) seen() []attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]attempt(nil), s.attempts...)
}

// accepted returns the ids of the events answered with 200, in order.
func (s *stubCollector) accepted() []string {
	var ids []string
	for _, a := range s.seen() {
		if a.status == http.StatusOK {
			ids = append(ids, a.ids...)
		}
	}
	return ids
}

func events(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = Event{EventID: "e" + strconv.Itoa(i), Type: "heartbeat", StreamID: "s", ListenerID: "u", TS: 1, PlayedMS: Int(10000)}
	}
	return out
}

func TestRetriesThrottlingAndUnavailable(t *testing.T) {
	s := newStub(t, 503, 429)
	c := New(s.ts.URL, "tok")
	c.MinBackoff = time.Millisecond
	start := time.Now()
	r, err := c.Send(context.Background(), events(3))
	if err != nil || r.Accepted != 3 || r.Retries != 2 || len(s.seen()) != 3 || len(s.accepted()) != 3 {
		t.Fatalf("result %+v err %v requests %d", r, err, len(s.seen()))
	}
	if time.Since(start) < 2*time.Second {
		t.Fatal("Retry-After: 1 was not honoured")
	}
}

func TestNeverRetriesClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 413} {
		s := newStub(t, status)
		_, err := New(s.ts.URL, "tok").Send(context.Background(), events(1))
		var se *StatusError
		var re *RetryableError
		if !errors.As(err, &se) || se.Status != status || errors.As(err, &re) || len(s.seen()) != 1 {
			t.Fatalf("%d: err %v after %d requests", status, err, len(s.seen()))
		}
	}
}

func TestBatchesAndGivesUp(t *testing.T) {
	s := newStub(t)
	c := New(s.ts.URL, "tok")
	c.BatchSize = 4
	if r, err := c.Send(context.Background(), events(10)); err != nil || r.Accepted != 10 || len(s.seen()) != 3 || len(s.accepted()) != 10 {
		t.Fatalf("batches: %+v %v requests %d", r, err, len(s.seen()))
	}
	s2 := newStub(t, 503, 503, 503, 503)
	s2.retryAfter = "2"
	c = New(s2.ts.URL, "tok")
	c.MaxRetries = 0
	_, err := c.Send(context.Background(), events(1))
	var re *RetryableError
	var se *StatusError
	if !errors.As(err, &re) || re.RetryAfter != 2*time.Second || !errors.As(err, &se) || se.Status != 503 || len(s2.seen()) != 1 {
		t.Fatalf("gave up after %d requests with %v, want 1 request and a retryable 503 with its Retry-After", len(s2.seen()), err)
	}
}

// TestEveryAttemptCarriesItsOwnSentAt: each attempt stamps all its events with the clock's time
// at that attempt, and the rest of the body is unchanged.
func TestEveryAttemptCarriesItsOwnSentAt(t *testing.T) {
	s := newStub(t, 503, 503)
	s.retryAfter = ""
	c := New(s.ts.URL, "tok")
	c.MinBackoff = time.Millisecond
	// A clock far from the real one, and one that moves a whole hour between calls, so that an
	// attempt stamped with any time but its own shows.
	var stamps []int64
	clock := time.Date(2031, 1, 2, 3, 4, 5, 678e6, time.UTC)
	c.Now = func() time.Time {
		clock = clock.Add(time.Hour)
		stamps = append(stamps, clock.UnixMilli())
		return clock
	}
	if _, err := c.SendBatch(context.Background(), events(5)); err != nil {
		t.Fatal(err)
	}
	seen := s.seen()
	if len(seen) != 3 || len(stamps) != 3 {
		t.Fatalf("%d requests, %d clock readings; want 3 of each", len(seen), len(stamps))
	}
	for i, a := range seen {
		if len(a.ids) != 5 || a.ids[4] != "e4" {
			t.Fatalf("attempt %d carried %v", i, a.ids)
		}
		for _, sent := range a.sentAt {
			if sent != stamps[i] {
				t.Fatalf("attempt %d: sent_at %d, want %d (the clock at that attempt)", i, sent, stamps[i])
			}
		}
	}
}

// TestTicketTravelsWithItsEvent: a player's ticket reaches the collector's parser on the
// events that carry one, and no event gets one it was not given.
func TestTicketTravelsWithItsEvent(t *testing.T) {
	s := newStub(t)
	evs := events(3)
	evs[0].Ticket = "AAAAAGa784DrMl4Z9WwBzmH9YAq0WYTA"
	evs[2].Ticket = "AAAAAGa784DrMl4Z9WwBzmH9YAq0WYTB"
	if _, err := New(s.ts.URL, "tok").SendBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	got := s.seen()[0].ticket
	if len(got) != 3 || got[0] != evs[0].Ticket || got[1] != "" || got[2] != evs[2].Ticket {
		t.Fatalf("tickets %q", got)
	}
}
