package collector

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/earshot/earshot/pkg/event"
)

// requestError is a failure of a whole request: the status it is answered with, the reason it
// is counted under in earshot_collector_requests_total, the message for the client and, for
// 429 and 503, when to retry. Handlers return these and Server.fail answers them, so that the
// mapping from conditions to statuses lives here and nowhere else.
type requestError struct {
	status     int
	reason     string
	msg        string
	retryAfter time.Duration
}

func (e *requestError) Error() string { return e.msg }

var (
	errMethod           = &requestError{http.StatusMethodNotAllowed, "request", "only POST is accepted", 0}
	errUnauthorized     = &requestError{http.StatusUnauthorized, "unauthorized", "missing or unknown ingest token", 0}
	errRateLimitedIP    = &requestError{http.StatusTooManyRequests, "rate_limited_ip", "too many requests from this address", time.Second}
	errRateLimitedToken = &requestError{http.StatusTooManyRequests, "rate_limited_token", "token is over its event rate", time.Second}
	// errOverloaded: limits.max_inflight_bytes is spent on bodies being read; a second is
	// enough for most of them to finish.
	errOverloaded = &requestError{http.StatusServiceUnavailable, "overloaded", "the collector is reading too many requests; retry later", time.Second}
	// errOriginNotAllowed: a browser page of an origin the token does not name (cors_origins).
	errOriginNotAllowed = &requestError{http.StatusForbidden, "origin_not_allowed", "this token may not be used from this page's origin", 0}
)

// batchStatus is the status of a reply whose events were judged one by one: 200 when any was
// forwarded or filtered as invalid traffic, 400 when nothing valid was sent, 403 when every
// event was one the token may not send, 429 (retry in a minute, when the new-stream bucket has
// refilled or streams went idle) when every event was over the stream quota.
func batchStatus(b *Batch) (int, time.Duration) {
	switch {
	case len(b.Msgs) > 0:
		return http.StatusOK, 0
	case b.Invalid > 0 && b.Filtered == 0 || b.Resp.Rejected == 0:
		return http.StatusBadRequest, 0
	case allOf(b, ReasonStreamNotAllowed, ReasonEndNotAllowed, ReasonDisplayedNotAllowed):
		return http.StatusForbidden, 0
	case allOf(b, ReasonStreamQuota):
		return http.StatusTooManyRequests, time.Minute
	}
	return http.StatusOK, 0
}

// allOf reports whether every rejection of b has one of reasons.
func allOf(b *Batch, reasons ...event.Reason) bool {
	for _, c := range b.Counts() {
		if !slices.Contains(reasons, c.Reason) {
			return false
		}
	}
	return len(b.Counts()) > 0
}

func badBody(msg string) *requestError {
	return &requestError{http.StatusBadRequest, "bad_body", msg, 0}
}

// forwardError maps a Producer.Write failure to a 503: the buffer is full, or Kafka did not
// acknowledge in time. A RetryableError says when to come back; otherwise in 2 s.
func forwardError(err error) *requestError {
	e := &requestError{http.StatusServiceUnavailable, "kafka_unavailable", "cannot forward events now; retry later", 2 * time.Second}
	var re *RetryableError
	if errors.As(err, &re) {
		e.retryAfter = re.RetryAfter
	}
	if errors.Is(err, ErrBufferFull) {
		e.reason = "buffer_full"
	}
	return e
}
