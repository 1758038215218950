package client

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCollector answers with the given statuses in turn (then 200) and counts the events of
// each request; a stand-in for the collector in unit tests of the client's retry logic.
func fakeCollector(t *testing.T, statuses ...int) (*httptest.Server, *atomic.Int32, *atomic.Int32) {
	var calls, events atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("headers %v", r.Header)
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		lines := 0
		for sc := bufio.NewScanner(zr); sc.Scan(); {
			lines++
		}
		status := 200
		if n < len(statuses) {
			status = statuses[n]
		}
		if status == 429 || status == 503 {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		if status == 200 {
			events.Add(int32(lines))
			w.Write([]byte(`{"accepted":` + strconv.Itoa(lines) + `,"rejected":0,"errors":[]}`))
			return
		}
		w.Write([]byte(`{"accepted":0,"rejected":0,"errors":[],"error":"nope"}`))
	}))
	t.Cleanup(ts.Close)
	return ts, &calls, &events
}

func events(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = Event{EventID: "e" + strconv.Itoa(i), Type: "heartbeat", StreamID: "s", ListenerID: "u", TS: 1, PlayedMS: Int(10000)}
	}
	return out
}

func TestRetriesThrottlingAndUnavailable(t *testing.T) {
	ts, calls, got := fakeCollector(t, 503, 429)
	c := New(ts.URL, "tok")
	c.MinBackoff = time.Millisecond
	start := time.Now()
	r, err := c.Send(context.Background(), events(3))
	if err != nil || r.Accepted != 3 || r.Retries != 2 || calls.Load() != 3 || got.Load() != 3 {
		t.Fatalf("result %+v err %v calls %d", r, err, calls.Load())
	}
	if time.Since(start) < 2*time.Second {
		t.Fatal("Retry-After: 1 was not honoured")
	}
}

func TestNeverRetriesClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 413} {
		ts, calls, _ := fakeCollector(t, status)
		c := New(ts.URL, "tok")
		_, err := c.Send(context.Background(), events(1))
		var se *StatusError
		if !errors.As(err, &se) || se.Status != status || calls.Load() != 1 {
			t.Fatalf("%d: err %v after %d calls", status, err, calls.Load())
		}
	}
}

func TestBatchesAndGivesUp(t *testing.T) {
	ts, calls, got := fakeCollector(t)
	c := New(ts.URL, "tok")
	c.BatchSize = 4
	if r, err := c.Send(context.Background(), events(10)); err != nil || r.Accepted != 10 || calls.Load() != 3 || got.Load() != 10 {
		t.Fatalf("batches: %+v %v calls %d", r, err, calls.Load())
	}
	ts2, calls2, _ := fakeCollector(t, 503, 503, 503, 503)
	c = New(ts2.URL, "tok")
	c.MaxRetries = 2
	c.MinBackoff = time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Send(ctx, events(1)); err == nil || calls2.Load() != 3 {
		t.Fatalf("gave up after %d calls with %v, want 3 calls and an error", calls2.Load(), err)
	}
}
