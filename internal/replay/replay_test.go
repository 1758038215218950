package replay

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is 2024-08-12T22:00:00Z, in unix ms: the replayed stream is a past one.
const t0 = 1723500000000

// logLines returns n valid event lines over the streams, of every type but end, with ts as unix
// ms and as RFC 3339, and their event ids in order.
func logLines(n int, streams ...string) (lines, ids []string) {
	for i := range n {
		id := fmt.Sprintf("e%05d", i)
		st, u, ts := streams[i%len(streams)], fmt.Sprintf("u%d", i%37), int64(t0+i*1000)
		var l string
		switch i % 6 {
		case 0:
			l = fmt.Sprintf(`{"event_id":%q,"type":"join","stream_id":%q,"listener_id":%q,"ts":%d}`, id, st, u, ts)
		case 1:
			l = fmt.Sprintf(`{"event_id":%q,"type":"play","stream_id":%q,"listener_id":%q,"ts":%q,"x_export":{"k":[1,2]}}`,
				id, st, u, time.UnixMilli(ts).UTC().Format(time.RFC3339Nano))
		case 2, 3:
			l = fmt.Sprintf(`{"event_id":%q,"type":"heartbeat","stream_id":%q,"listener_id":%q,"ts":%d,"sent_at":%d,"played_ms":10000,"stalled_ms":0,"muted":%v,"client":{"app":"a","version":"1","platform":"web"}}`,
				id, st, u, ts, ts+5, i%4 == 3)
		case 4:
			l = fmt.Sprintf(`{"event_id":%q,"type":"displayed","stream_id":%q,"ts":%d,"displayed_count":%d}`, id, st, ts, i*10)
		case 5:
			l = fmt.Sprintf(`{"event_id":%q,"type":"error","stream_id":%q,"listener_id":%q,"ts":%d,"error_code":"network"}`, id, st, u, ts)
		}
		lines, ids = append(lines, l), append(ids, id)
	}
	return lines, ids
}

// writeLog writes lines as NDJSON to dir/name, gzip-compressed if gz.
func writeLog(t *testing.T, dir, name string, lines []string, gz bool) string {
	t.Helper()
	data := []byte(strings.Join(lines, "\n") + "\n")
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lineStarts returns the uncompressed offset of each line of writeLog's file.
func lineStarts(lines []string) []int64 {
	out := make([]int64, len(lines)+1)
	for i, l := range lines {
		out[i+1] = out[i] + int64(len(l)) + 1
	}
	return out
}

func testOptions(f *fakeCollector) Options {
	return Options{Collector: f.srv.URL, Token: testToken, BatchEvents: 10, Parallel: 4, MaxRetries: 1000,
		MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, StateInterval: 2 * time.Millisecond}
}

// randomFaults answers 503 to 15 % of requests, 429 to 10 %, loses the answer of 5 % and delays
// 20 % by up to 5 ms, so that batches are retried, duplicated and answered out of order.
func randomFaults(seed uint64) func(int, []string) fault {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(int, []string) fault {
		switch x := rng.Float64(); {
		case x < 0.15:
			return fault{status: 503}
		case x < 0.25:
			return fault{status: 429}
		case x < 0.30:
			return fault{lost: true}
		case x < 0.50:
			return fault{delay: time.Duration(rng.IntN(5000)) * time.Microsecond}
		}
		return fault{}
	}
}

// checkDelivered fails unless the collector accepted exactly the ids, each once if once.
func checkDelivered(t *testing.T, f *fakeCollector, ids []string, once bool) map[string]int {
	t.Helper()
	got, _ := f.snapshot()
	for _, id := range ids {
		switch n := got[id]; {
		case n == 0:
			t.Fatalf("event %s never arrived", id)
		case once && n != 1:
			t.Fatalf("event %s arrived %d times", id, n)
		}
	}
	if len(got) != len(ids) {
		t.Fatalf("the collector accepted %d distinct events, the file holds %d", len(got), len(ids))
	}
	return got
}

func readState(t *testing.T, path string) state {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestReplayDeliversEveryEvent: every event of the file reaches the collector, exactly once
// when nothing fails and at least once through 429s, 503s and lost answers, in gzip bodies; the
// counts are exact either way.
func TestReplayDeliversEveryEvent(t *testing.T) {
	for _, faulty := range []bool{false, true} {
		t.Run(fmt.Sprint("faults=", faulty), func(t *testing.T) {
			f := newFake(t)
			if faulty {
				f.setFault(randomFaults(7))
			}
			lines, ids := logLines(1234, "s1", "s2")
			path := writeLog(t, t.TempDir(), "log.ndjson", lines, false)
			sum, err := Run(context.Background(), path, testOptions(f))
			if err != nil {
				t.Fatal(err)
			}
			checkDelivered(t, f, ids, !faulty)
			if sum.Lines != 1234 || sum.Sent != 1234 || sum.Accepted != 1234 || sum.Rejected != 0 || sum.Malformed != 0 {
				t.Fatalf("summary counts %+v", sum.Progress)
			}
			if !slices.Equal(sum.Streams, []string{"s1", "s2"}) || !slices.Equal(sum.Closed, sum.Streams) || sum.Resumed {
				t.Fatalf("summary %+v", sum)
			}
			if faulty && sum.Retries == 0 {
				t.Fatal("no retries counted through the faults")
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.gzipped != f.requests {
				t.Fatalf("%d of %d request bodies were gzipped", f.gzipped, f.requests)
			}
			if st := readState(t, sum.StatePath); st.Offset != lineStarts(lines)[1234] || st.Line != 1234 || len(st.Closed) != 2 {
				t.Fatalf("final state %+v", st)
			}
		})
	}
}

// TestReplayResumes: a replay interrupted at a random point, after some batches, and run again
// with the same state file starts from the recorded offset (not 0), and the collector has then
// received every event of the file, with the counts of an uninterrupted replay.
func TestReplayResumes(t *testing.T) {
	for seed := range uint64(6) {
		gz := seed%2 == 1
		t.Run(fmt.Sprintf("seed=%d,gzip=%v", seed, gz), func(t *testing.T) {
			f := newFake(t)
			f.setFault(randomFaults(seed))
			lines, ids := logLines(3000, "s1", "s2", "s3")
			path := writeLog(t, t.TempDir(), "log", lines, gz)
			starts := lineStarts(lines)
			opts := testOptions(f)
			opts.StatePath = filepath.Join(t.TempDir(), "state.json")

			// Interrupt once the state records an offset past a random line of the first half.
			cut := starts[1+rand.New(rand.NewPCG(seed, 2)).IntN(1500)]
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				for ctx.Err() == nil {
					if data, err := os.ReadFile(opts.StatePath); err == nil {
						var st state
						if json.Unmarshal(data, &st) == nil && st.Offset >= cut {
							cancel()
							return
						}
					}
					time.Sleep(200 * time.Microsecond)
				}
			})
			first, err := Run(ctx, path, opts)
			cancel()
			wg.Wait()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v", err)
			}
			if first.Resumed || len(first.Closed) != 0 {
				t.Fatalf("interrupted run: %+v", first)
			}
			saved := readState(t, opts.StatePath)
			if saved.Offset < cut || saved.Offset != starts[saved.Line] {
				t.Fatalf("state offset %d (line %d), interrupted after offset %d", saved.Offset, saved.Line, cut)
			}
			sum, err := Run(context.Background(), path, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !sum.Resumed || sum.ResumedAt != saved.Offset || sum.ResumedLine != saved.Line {
				t.Fatalf("resumed run: resumed %v at %d (line %d), state said %d (line %d)",
					sum.Resumed, sum.ResumedAt, sum.ResumedLine, saved.Offset, saved.Line)
			}
			checkDelivered(t, f, ids, false)
			if sum.Lines != 3000 || sum.Sent != 3000 || sum.Accepted != 3000 || sum.Rejected != 0 {
				t.Fatalf("resumed summary counts %+v: want those of one replay", sum.Progress)
			}
			if !slices.Equal(sum.Closed, []string{"s1", "s2", "s3"}) {
				t.Fatalf("closed %v", sum.Closed)
			}
		})
	}
}

// TestReplayLowWaterMark: batches answered out of order move the recorded offset only over an
// acknowledged prefix. A batch held unanswered while later ones are acknowledged keeps the state
// at its first line; the resumed run sends it and everything after it again.
func TestReplayLowWaterMark(t *testing.T) {
	f := newFake(t)
	f.setFault(func(_ int, ids []string) fault {
		return fault{hold: slices.Contains(ids, "e00030")} // the fourth batch of 10
	})
	lines, ids := logLines(500, "s1")
	path := writeLog(t, t.TempDir(), "log.ndjson", lines, false)
	starts := lineStarts(lines)
	opts := testOptions(f)
	opts.StatePath = path + StateSuffix
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		// Until the state has reached the held batch and several later batches arrived.
		for {
			got, _ := f.snapshot()
			if data, err := os.ReadFile(opts.StatePath); err == nil && len(got) >= 60 {
				var st state
				if json.Unmarshal(data, &st) == nil && st.Offset == starts[30] {
					cancel()
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	})
	if _, err := Run(ctx, path, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	wg.Wait()
	f.quiesce()
	before, _ := f.snapshot()
	if before["e00030"] != 0 {
		t.Fatal("the held batch arrived")
	}
	if st := readState(t, opts.StatePath); st.Offset != starts[30] || st.Line != 30 {
		t.Fatalf("state at offset %d (line %d), want the held batch's first line: %d (line 30)", st.Offset, st.Line, starts[30])
	}
	f.setFault(nil)
	sum, err := Run(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Resumed || sum.ResumedAt != starts[30] {
		t.Fatalf("resumed at %d, want %d", sum.ResumedAt, starts[30])
	}
	after := checkDelivered(t, f, ids, false)
	again := 0
	for i, id := range ids {
		// Before the mark: acknowledged, never sent again. From the mark on: sent again by the
		// resumed run — once more than the first run delivered, or, for a request of the first
		// run the fake had not seen when it was cancelled and handled later, that request too.
		switch {
		case i < 30 && after[id] != 1:
			t.Fatalf("event %s before the mark arrived %d times, want 1", id, after[id])
		case i >= 30 && (after[id] < before[id]+1 || after[id] > 2):
			t.Fatalf("event %s arrived %d times (%d before the resumed run), want it sent again once", id, after[id], before[id])
		}
		if after[id] == 2 {
			again++
		}
	}
	if again < 30 {
		t.Fatalf("%d events acknowledged after the held batch were sent again, want at least 30", again)
	}
	if sum.Accepted != 500 {
		t.Fatalf("accepted %d", sum.Accepted)
	}
}

// TestReplayGzipInput: compressed input is recognised by its magic bytes, not its name.
func TestReplayGzipInput(t *testing.T) {
	for _, c := range []struct {
		name string
		gz   bool
	}{{"capture.log", true}, {"export.ndjson.gz", true}, {"plain.ndjson.gz", false}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			lines, ids := logLines(321, "s1")
			path := writeLog(t, t.TempDir(), c.name, lines, c.gz)
			sum, err := Run(context.Background(), path, testOptions(f))
			if err != nil {
				t.Fatal(err)
			}
			checkDelivered(t, f, ids, true)
			fi, _ := os.Stat(path)
			if sum.Accepted != 321 || sum.BytesRead != fi.Size() || sum.BytesTotal != fi.Size() {
				t.Fatalf("summary %+v, file of %d bytes", sum.Progress, fi.Size())
			}
		})
	}
}

// TestReplayMalformedLines: lines that are not valid events are counted by reason with their
// line numbers and not sent; events the collector rejects are counted by its reason; the rest
// is sent.
func TestReplayMalformedLines(t *testing.T) {
	f := newFake(t)
	valid, _ := logLines(6, "s1")
	future := time.Now().Add(time.Hour).UnixMilli()
	lines := []string{
		"\ufeff" + valid[0], // a BOM before the first line
		`not json`,
		valid[1] + "\r", // a CRLF line end
		`{"event_id":"x1","type":"heartbeat","stream_id":"s1","listener_id":"u","ts":1723500000000}`,
		``,
		`[{"event_id":"x2"}]`,
		`{"event_id":"x3","type":"join","stream_id":"s1","listener_id":"u","ts":"yesterday"}`,
		`{"event_id":"x4","type":"join","stream_id":"s1","listener_id":"u","ts":1723500000000`,
		fmt.Sprintf(`{"event_id":"future","type":"join","stream_id":"s1","listener_id":"u","ts":%d}`, future),
		valid[2],
		`{"event_id":"` + strings.Repeat("x", maxLineBytes) + `"}`,
		valid[3],
		`{"event_id":"x5","type":"tick","stream_id":"s1","ts":1723500000000}`,
		valid[4],
	}
	path := writeLog(t, t.TempDir(), "log.ndjson", lines, false)
	sum, err := Run(context.Background(), path, testOptions(f))
	if err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, f, []string{"e00000", "e00001", "e00002", "e00003", "e00004"}, true)
	wantBad := []LineError{{Line: 2, Reason: "malformed_json"}, {Line: 4, Reason: "missing_played_ms"},
		{Line: 6, Reason: "not_an_object"}, {Line: 7, Reason: "bad_ts"}, {Line: 8, Reason: "malformed_json"},
		{Line: 11, Reason: "line_too_long"}, {Line: 13, Reason: "bad_type"}}
	starts := lineStarts(lines)
	if len(sum.MalformedLines) != len(wantBad) {
		t.Fatalf("malformed lines %+v", sum.MalformedLines)
	}
	for i, w := range wantBad {
		g := sum.MalformedLines[i]
		if g.Line != w.Line || g.Reason != w.Reason || g.Offset != starts[w.Line-1] || g.Message == "" {
			t.Fatalf("malformed line %d: %+v, want line %d %s at offset %d", i, g, w.Line, w.Reason, starts[w.Line-1])
		}
	}
	wantBy := map[string]int64{"malformed_json": 2, "missing_played_ms": 1, "not_an_object": 1, "bad_ts": 1, "line_too_long": 1, "bad_type": 1}
	if !mapsEqual(sum.MalformedByReason, wantBy) || sum.Malformed != 7 {
		t.Fatalf("malformed by reason %v (%d)", sum.MalformedByReason, sum.Malformed)
	}
	if !mapsEqual(sum.RejectedByReason, map[string]int64{"ts_in_future": 1}) || sum.Rejected != 1 ||
		len(sum.RejectedLines) != 1 || sum.RejectedLines[0].Line != 9 || sum.RejectedLines[0].Offset != starts[8] {
		t.Fatalf("rejected %v %+v", sum.RejectedByReason, sum.RejectedLines)
	}
	if sum.Lines != int64(len(lines)) || sum.Sent != 6 || sum.Accepted != 5 {
		t.Fatalf("summary %+v", sum.Progress)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestReplayClosesStreams: one end event per stream, sent after every event of the stream was
// acknowledged, with the stream's newest ts; an end in the input is held back, not sent where
// it stands. Without trusted_time the ends are rejected and Run says so; NoClose sends none.
func TestReplayClosesStreams(t *testing.T) {
	lines, ids := logLines(800, "s1", "s2")
	// The capture's own end of s1, in the middle: sent there it would close s1 too early.
	lines = slices.Insert(lines, 400, `{"event_id":"end-s1","type":"end","stream_id":"s1","ts":1723500100000}`)
	newest := map[string]int64{"s1": t0 + 798*1000, "s2": t0 + 799*1000}
	perStream := map[string]int{"s1": 400, "s2": 400}

	t.Run("close", func(t *testing.T) {
		f := newFake(t)
		f.setFault(randomFaults(3))
		path := writeLog(t, t.TempDir(), "log.ndjson", lines, false)
		sum, err := Run(context.Background(), path, testOptions(f))
		if err != nil {
			t.Fatal(err)
		}
		checkDelivered(t, f, ids, false)
		_, ends := f.snapshot()
		seen := map[string]bool{}
		for _, e := range ends {
			if seen[e.stream] {
				continue // an end sent again after a lost answer closes nothing more
			}
			seen[e.stream] = true
			if e.before != perStream[e.stream] || e.ts != newest[e.stream] || e.id == "end-s1" || len(e.id) > 64 {
				t.Fatalf("end %+v: want it after all %d events of its stream, at ts %d", e, perStream[e.stream], newest[e.stream])
			}
		}
		if len(seen) != 2 || sum.InputEnds != 1 || !slices.Equal(sum.Closed, []string{"s1", "s2"}) {
			t.Fatalf("ends %+v, summary %+v", ends, sum)
		}
	})
	t.Run("no close", func(t *testing.T) {
		f := newFake(t)
		path := writeLog(t, t.TempDir(), "log.ndjson", lines, false)
		opts := testOptions(f)
		opts.NoClose = true
		sum, err := Run(context.Background(), path, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, ends := f.snapshot(); len(ends) != 0 || len(sum.Closed) != 0 {
			t.Fatalf("ends sent without Close: %+v", ends)
		}
	})
	t.Run("untrusted token", func(t *testing.T) {
		f := newFake(t)
		f.mu.Lock()
		f.trusted = false
		f.mu.Unlock()
		path := writeLog(t, t.TempDir(), "log.ndjson", lines, false)
		sum, err := Run(context.Background(), path, testOptions(f))
		if !errors.Is(err, ErrNotClosed) || !strings.Contains(err.Error(), "end_not_allowed") {
			t.Fatalf("err %v", err)
		}
		if sum.RejectedByReason["ts_too_old"] != 800 || len(sum.Closed) != 0 {
			t.Fatalf("summary %+v", sum)
		}
	})
}

// TestReplayProgress: the callback sees BytesRead grow to the file's size and the counts grow,
// and its last call, after which there is none, is Done.
func TestReplayProgress(t *testing.T) {
	f := newFake(t)
	f.setFault(func(int, []string) fault { return fault{delay: time.Millisecond} })
	lines, _ := logLines(3000, "s1")
	path := writeLog(t, t.TempDir(), "log.ndjson", lines, false)
	var mu sync.Mutex
	var seen []Progress
	opts := testOptions(f)
	opts.BatchEvents, opts.Parallel = 20, 2
	opts.ProgressInterval = time.Millisecond
	opts.Progress = func(p Progress) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
	}
	sum, err := Run(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // a call after Run would show up here
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 3 {
		t.Fatalf("%d progress calls", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		p, q := seen[i-1], seen[i]
		if q.BytesRead < p.BytesRead || q.Sent < p.Sent || q.Lines < p.Lines || p.Done {
			t.Fatalf("progress went back, or continued after Done: %+v then %+v", p, q)
		}
	}
	last := seen[len(seen)-1]
	fi, _ := os.Stat(path)
	if !last.Done || last.BytesRead != fi.Size() || last.BytesTotal != fi.Size() || last.Sent != 3000 || last != sum.Progress {
		t.Fatalf("last progress %+v, summary %+v", last, sum.Progress)
	}
	if seen[0].BytesRead >= last.BytesRead {
		t.Fatalf("BytesRead did not increase: %d, then %d", seen[0].BytesRead, last.BytesRead)
	}
	if !slices.ContainsFunc(seen, func(p Progress) bool { return p.ETA > 0 && p.EventsPerSec > 0 }) {
		t.Fatal("no progress had a rate and an ETA")
	}
}

// TestReplayState: a finished replay run again sends nothing; a state file of another input,
// or whose offset is not a line start, is refused; a bad token stops the replay at once.
func TestReplayState(t *testing.T) {
	f := newFake(t)
	dir := t.TempDir()
	lines, _ := logLines(50, "s1")
	path := writeLog(t, dir, "log.ndjson", lines, false)
	opts := testOptions(f)
	if _, err := Run(context.Background(), path, opts); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	requests := f.requests
	f.mu.Unlock()
	sum, err := Run(context.Background(), path, opts)
	if err != nil || !sum.Resumed || sum.Accepted != 50 {
		t.Fatalf("second run: %v, %+v", err, sum)
	}
	f.mu.Lock()
	if f.requests != requests {
		t.Fatalf("a finished replay sent %d more requests", f.requests-requests)
	}
	f.mu.Unlock()

	other, _ := logLines(60, "s2")
	otherPath := writeLog(t, dir, "other.ndjson", other, false)
	o := opts
	o.StatePath = path + StateSuffix
	if _, err := Run(context.Background(), otherPath, o); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("another input's state: %v", err)
	}

	st := readState(t, o.StatePath)
	st.Offset, st.Closed = lineStarts(lines)[10]+1, nil
	if err := saveState(o.StatePath, st); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), path, opts); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("an offset inside a line: %v", err)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(entries) != 0 {
		t.Fatalf("temporary state files left: %v", entries)
	}

	bad := testOptions(f)
	bad.Token = "wrong"
	bad.StatePath = filepath.Join(dir, "bad-token.state")
	start := time.Now()
	if _, err := Run(context.Background(), path, bad); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("a bad token was retried")
	}
	if st := readState(t, bad.StatePath); st.Offset != 0 {
		t.Fatalf("state after a refused first batch: %+v", st)
	}
}

// TestReplayTruncatedInput: a compressed capture cut short (a recorder killed mid-write) is
// replayed up to its last complete line, then Run says what happened and leaves the streams
// open, with the state at that line.
func TestReplayTruncatedInput(t *testing.T) {
	f := newFake(t)
	lines, ids := logLines(2000, "s1")
	path := writeLog(t, t.TempDir(), "log.ndjson.gz", lines, true)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)*6/10], 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), path, testOptions(f))
	if err == nil || !strings.Contains(err.Error(), "cannot read the input") {
		t.Fatalf("err %v", err)
	}
	got, ends := f.snapshot()
	st := readState(t, sum.StatePath)
	if st.Line == 0 || st.Line >= 2000 || st.Offset != lineStarts(lines)[st.Line] || len(got) != int(st.Line) || len(ends) != 0 {
		t.Fatalf("state at line %d, offset %d; %d events and %d ends arrived", st.Line, st.Offset, len(got), len(ends))
	}
	for _, id := range ids[:st.Line] {
		if got[id] != 1 {
			t.Fatalf("event %s of the complete lines arrived %d times", id, got[id])
		}
	}
}
