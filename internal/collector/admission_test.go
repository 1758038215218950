package collector

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func streamEvents(streams ...string) string {
	var lines []string
	for i, s := range streams {
		lines = append(lines, fmt.Sprintf(`{"event_id":"e%d","type":"join","stream_id":"%s","listener_id":"u%d","ts":1723509720000}`, i, s, i))
	}
	return strings.Join(lines, "\n")
}

// TestStreamQuota: an unscoped, untrusted token may keep at most limits.max_active_streams
// streams active (seen within limits.stream_idle) and open limits.new_streams_per_minute;
// events beyond are filtered stream_quota. Scoped and trusted_time tokens are not subject.
func TestStreamQuota(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.MaxActiveStreams, cfg.Limits.NewStreamsPerMinute, cfg.Limits.StreamIdle = 3, 1000, time.Hour
	p, _ := NewPipeline(cfg)
	now := time.UnixMilli(1_723_509_720_000)
	b := convert(t, p, Source{}, now, streamEvents("s1", "s2", "s3", "s4", "s1", "s5"))
	if b.Resp.Accepted != 4 || b.Filtered != 2 || b.Resp.Errors[0].Index != 3 || b.Resp.Errors[1].Index != 5 ||
		b.Resp.Errors[0].Reason != ReasonStreamQuota || b.Resp.Errors[1].Reason != ReasonStreamQuota {
		t.Fatalf("%+v", b.Resp)
	}
	if b := convert(t, p, Source{Streams: map[string]bool{"s9": true}}, now, streamEvents("s9")); b.Resp.Accepted != 1 {
		t.Fatalf("scoped token: %+v", b.Resp)
	}
	if b := convert(t, p, Source{TrustedTime: true}, now, streamEvents("s10")); b.Resp.Accepted != 1 {
		t.Fatalf("trusted token: %+v", b.Resp)
	}
	// s1 stays active; s2 and s3 go idle, which makes room for two new streams.
	later := now.Add(40 * time.Minute)
	if b := convert(t, p, Source{}, later, streamEvents("s1", "s6")); b.Resp.Accepted != 1 {
		t.Fatalf("still full after 40 min: %+v", b.Resp)
	}
	later = now.Add(time.Hour + time.Second)
	if b := convert(t, p, Source{}, later, streamEvents("s6", "s7", "s8")); b.Resp.Accepted != 2 || b.Resp.Errors[0].Index != 2 {
		t.Fatalf("after s2 and s3 went idle: %+v", b.Resp)
	}
	if n := p.streams.size(); n > 3 {
		t.Fatalf("table holds %d streams, max 3", n)
	}
}

func TestNewStreamsPerMinute(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.MaxActiveStreams, cfg.Limits.NewStreamsPerMinute = 1000, 2
	p, _ := NewPipeline(cfg)
	now := time.UnixMilli(1_723_509_720_000)
	if b := convert(t, p, Source{}, now, streamEvents("s1", "s2", "s3", "s1")); b.Resp.Accepted != 3 || b.Resp.Errors[0].Index != 2 {
		t.Fatalf("%+v", b.Resp)
	}
	if b := convert(t, p, Source{}, now.Add(30*time.Second), streamEvents("s3", "s4")); b.Resp.Accepted != 1 || b.Resp.Errors[0].Index != 1 {
		t.Fatalf("30 s later, one new stream: %+v", b.Resp)
	}
}

// TestStreamQuotaStatus: a request whose events are all over the quota is answered 429.
func TestStreamQuotaStatus(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Limits.MaxActiveStreams = 1 })
	post(t, ts.URL, streamEvents("s1")) // 503: Kafka is down, but s1 is admitted
	status, r, h := post(t, ts.URL, streamEvents("s2", "s3"))
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" || len(r.Errors) != 2 || r.Errors[0].Reason != ReasonStreamQuota {
		t.Fatalf("status %d %+v", status, r)
	}
}
