package collector

import (
	"net/http"
	"strings"
	"testing"
)

// TestOversizedBatchCountedInMetrics: the events of an oversized batch that the response does
// not list are still counted as rejected.
func TestOversizedBatchCountedInMetrics(t *testing.T) {
	srv, ts := newTestCollector(t, func(c *Config) { c.Limits.MaxEventsPerRequest = 8 })
	code, resp, _ := post(t, ts.URL, strings.Repeat("1\n", 1000))
	if code != http.StatusBadRequest || resp.Rejected != 1000 || len(resp.Errors) != 9 || !resp.ErrorsTruncated {
		t.Fatalf("%d: rejected %d, %d errors listed (truncated %v)", code, resp.Rejected, len(resp.Errors), resp.ErrorsTruncated)
	}
	m := adminMetrics(t, srv)
	for _, want := range []string{
		`earshot_collector_events_rejected_total{reason="not_an_object"} 8`,
		`earshot_collector_events_rejected_total{reason="too_many_events_in_request"} 992`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("no %s in\n%s", want, m)
		}
	}
}
