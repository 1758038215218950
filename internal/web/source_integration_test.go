package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/chsink"
	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/sketch"
	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/internal/window"
)

// TestClickHouseSource reads rows written the way the aggregator writes them (chsink) back
// through ClickHouseSource: the stream list from stream_minutes, a stream's result, a stream
// known only by its claims, and an unknown one.
func TestClickHouseSource(t *testing.T) {
	conn := testenv.MigratedClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	at := time.Date(2024, 8, 13, 0, 30, 0, 0, time.UTC)
	row := func(stream string, minute int, partition uint16, listeners []uint64, final bool) window.MinuteRow {
		var s sketch.Set
		for _, l := range listeners {
			s.Insert(l)
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		perSec := make([]uint32, 60)
		for i := range perSec {
			perSec[i] = uint32(len(listeners))
		}
		return window.MinuteRow{Stream: stream, Minute: at.Add(time.Duration(minute) * time.Minute), Partition: partition,
			Version: 1, Final: final, Connected: s.Count(), Hearing: s.Count(),
			ConnectedSketch: b, HearingSketch: b, QualifiedSketch: b, ConnectedPerSec: perSec, HearingPerSec: perSec,
			Joins: uint64(len(listeners)), ErrorsByCode: map[string]uint64{}, DisplayedLastAt: at}
	}
	batch := &chsink.Batch{Minutes: []window.MinuteRow{
		row("a", 0, 0, []uint64{1, 2, 3}, true),
		row("a", 0, 1, []uint64{4, 5}, true), // another partition's listeners in the same minute
		row("a", 1, 0, []uint64{1, 2}, false),
		row("b", 5, 0, []uint64{9}, true),
	}}
	if err := chsink.New(conn).Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := claims.Store(ctx, conn, []claims.Claim{
		{ID: "five", StreamID: "a", Claimant: "host", Quote: "five of you", ClaimedValue: 5, Metric: claims.MetricConcurrent, SaidAt: at.Add(10 * time.Second)},
		{ID: "lonely", StreamID: "claims-only", Claimant: "host", Quote: "millions", ClaimedValue: 1e6, Metric: claims.MetricCume, SaidAt: at.Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	src := ClickHouseSource(conn, 0.05)

	streams, err := src.Streams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []StreamInfo{
		{ID: "b", First: at.Add(5 * time.Minute), Last: at.Add(5 * time.Minute), Peak: 1, Status: result.StatusFinal},
		{ID: "a", First: at, Last: at.Add(time.Minute), Peak: 5, Status: result.StatusProvisional},
	}
	if len(streams) != len(want) {
		t.Fatalf("streams %+v, want %+v", streams, want)
	}
	for i := range want {
		if g, w := streams[i], want[i]; g.ID != w.ID || !g.First.Equal(w.First) || !g.Last.Equal(w.Last) || g.Peak != w.Peak || g.Status != w.Status {
			t.Errorf("stream %d: %+v, want %+v", i, g, w)
		}
	}

	r, err := src.Result(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != result.StatusPartlyFinal || len(r.Minutes) != 2 || r.Minutes[0].Connected.Value != 5 ||
		len(r.Claims) != 1 || r.Claims[0].Verdict != claims.Consistent {
		t.Errorf("result of a: status %s, %d minutes, claims %+v", r.Status, len(r.Minutes), r.Claims)
	}

	r, err = src.Result(ctx, "claims-only")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != result.StatusNoData || len(r.Claims) != 1 || r.Claims[0].Verdict != claims.NotMeasurable {
		t.Errorf("a stream known by its claims only: status %s, claims %+v", r.Status, r.Claims)
	}

	if _, err := src.Result(ctx, "nope"); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("unknown stream: %v, want ErrUnknownStream", err)
	}

	rec := httptest.NewRecorder()
	New(src, Options{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/streams/a", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="claim-five"`) {
		t.Errorf("the page of a: %d", rec.Code)
	}
}
