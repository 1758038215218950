package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/scenario"
)

// scrape reads a Prometheus text exposition: every sample by its full name with labels.
func scrape(admin string) (map[string]float64, error) {
	resp, err := httpClient.Get("http://" + admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// sum adds the samples named name (any labels) over every scrape.
func sum(scrapes []map[string]float64, name string) float64 {
	var s float64
	for _, m := range scrapes {
		for k, v := range m {
			if k == name || strings.HasPrefix(k, name+"{") {
				s += v
			}
		}
	}
	return s
}

// histogramQuantiles merges a histogram's buckets over the scrapes and returns the upper
// bounds at which the cumulative count reaches each quantile (a bucket-resolution estimate).
func histogramQuantiles(scrapes []map[string]float64, name string, qs ...float64) (count float64, out []float64) {
	buckets := map[float64]float64{}
	for _, m := range scrapes {
		for k, v := range m {
			rest, ok := strings.CutPrefix(k, name+`_bucket{le="`)
			if !ok {
				continue
			}
			le, err := strconv.ParseFloat(strings.TrimSuffix(rest, `"}`), 64)
			if err != nil {
				le = math.Inf(1)
			}
			buckets[le] += v
		}
	}
	les := make([]float64, 0, len(buckets))
	for le := range buckets {
		les = append(les, le)
	}
	slices.Sort(les)
	if len(les) == 0 {
		return 0, make([]float64, len(qs))
	}
	count = buckets[les[len(les)-1]]
	for _, q := range qs {
		v := math.Inf(1)
		for _, le := range les {
			if buckets[le] >= q*count {
				v = le
				break
			}
		}
		out = append(out, v)
	}
	return count, out
}

// saveProfile takes a CPU profile of secs seconds from a process's /debug/pprof into dir,
// then a heap profile (what is live at its end).
func saveProfile(ctx context.Context, p *proc, secs int, dir string) error {
	if err := fetchProfile(ctx, p, fmt.Sprintf("profile?seconds=%d", secs), filepath.Join(dir, p.name+".cpu.pprof")); err != nil {
		return err
	}
	return fetchProfile(ctx, p, "heap", filepath.Join(dir, p.name+".heap.pprof"))
}

func fetchProfile(ctx context.Context, p *proc, what, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/%s", p.admin, what), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: profile: %s", p.name, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profileTop is `go tool pprof -top` of a profile saveProfile took: kind "cpu" or "heap"
// (its live bytes).
func profileTop(ctx context.Context, p *proc, dir, kind string) (string, error) {
	path := filepath.Join(dir, p.name+"."+kind+".pprof")
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	args := []string{"tool", "pprof", "-top", "-nodecount=18"}
	if kind == "heap" {
		args = append(args, "-sample_index=inuse_space")
	}
	out, err := exec.CommandContext(ctx, "go", append(args, path)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof %s: %v: %s", path, err, out)
	}
	return string(out), nil
}

// logBytes is the size of the segment files (.log) under the directories matching glob: the
// data. The indexes next to them are preallocated sparse files (10 MB each) that would count
// as written.
func logBytes(glob string) int64 {
	dirs, _ := filepath.Glob(glob)
	var n int64
	for _, d := range dirs {
		filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasSuffix(e.Name(), ".log") {
				if info, err := e.Info(); err == nil {
					n += info.Size()
				}
			}
			return nil
		})
	}
	return n
}

// tableBytes is the database's active parts on disk by table.
func tableBytes(ctx context.Context, conn driver.Conn, db string) (map[string]uint64, error) {
	rows, err := conn.Query(ctx, `SELECT table, sum(bytes_on_disk) FROM system.parts WHERE database = ? AND active GROUP BY table`, db)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var t string
		var n uint64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, rows.Err()
}

// compare prints the measured figures against the truth and returns how many distinct counts
// missed their interval or exact figures differed.
func compare(w io.Writer, r *result.Result, tr *scenario.Truth) (misses int) {
	t := r.Totals
	if t == nil {
		fmt.Fprintln(w, "    no figures measured")
		return 1
	}
	exact := func(name string, got, want uint64) {
		mark := "="
		if got != want {
			mark, misses = "≠", misses+1
		}
		fmt.Fprintf(w, "    %-26s %12d   truth %12d  %s\n", name, got, want, mark)
	}
	within := func(name string, c result.Count, want int) {
		mark := "inside"
		if float64(want) < c.Lo || float64(want) > c.Hi {
			mark, misses = "OUTSIDE", misses+1
		}
		fmt.Fprintf(w, "    %-26s %12.0f [%.0f, %.0f]   truth %d  %s (error %+.2f %%)\n", name, c.Value, c.Lo, c.Hi, want, mark,
			100*(c.Value-float64(want))/math.Max(1, float64(want)))
	}
	exact("peak concurrent", t.PeakConcurrent.Value, uint64(tr.Totals.PeakConcurrent))
	exact("peak concurrent hearing", t.PeakConcurrentHearing.Value, uint64(tr.Totals.PeakConcurrentHearing))
	within("cume connected", t.CumeConnected, tr.Totals.CumeConnected)
	within("cume hearing", t.CumeHearing, tr.Totals.CumeHearing)
	within("cume qualified", t.CumeQualified, tr.Totals.CumeQualified)
	exact("joins", t.Joins, uint64(tr.Totals.Joins))
	exact("played ms", t.PlayedMS, uint64(tr.Totals.PlayedMS))
	exact("start failures", t.StartFailures, uint64(tr.Totals.StartFailures))
	// Every minute: connected and hearing inside their intervals, peaks exact.
	byMinute := map[time.Time]result.Minute{}
	for _, m := range r.Minutes {
		byMinute[m.Minute] = m
	}
	in, peaks := 0, 0
	for _, tm := range tr.Minutes {
		m, ok := byMinute[tm.Minute]
		if ok && float64(tm.Connected) >= m.Connected.Lo && float64(tm.Connected) <= m.Connected.Hi &&
			float64(tm.Hearing) >= m.Hearing.Lo && float64(tm.Hearing) <= m.Hearing.Hi {
			in++
		}
		if ok && m.PeakConcurrent == uint64(tm.PeakConcurrent) && m.PeakConcurrentHearing == uint64(tm.PeakConcurrentHearing) {
			peaks++
		}
	}
	fmt.Fprintf(w, "    minutes: %d/%d with connected and hearing inside their 95 %% intervals, %d/%d with both peaks exact\n",
		in, len(tr.Minutes), peaks, len(tr.Minutes))
	if peaks != len(tr.Minutes) {
		misses++
	}
	return misses
}

// checkpointBytes is the size of the latest checkpoint of every partition, and how many there
// are: what one checkpoint round writes.
func checkpointBytes(ctx context.Context, conn driver.Conn) (bytes, parts uint64, err error) {
	// The newest checkpoint of each partition: its chunks (schema 005), or its row's state
	// (written by an earlier release).
	err = conn.QueryRow(ctx, `
		WITH latest AS (
			SELECT consumer_group AS g, topic AS t, partition AS p, argMax(slot, next_offset) AS s, max(next_offset) AS n,
				argMax(length(state), next_offset) AS inline
			FROM checkpoints FINAL GROUP BY consumer_group, topic, partition)
		SELECT sum(inline) + (SELECT sum(length(c.data)) FROM checkpoint_chunks AS c FINAL
			INNER JOIN latest AS l ON c.consumer_group = l.g AND c.topic = l.t AND c.partition = l.p
				AND c.slot = l.s AND c.next_offset = l.n), count()
		FROM latest`).Scan(&bytes, &parts)
	return bytes, parts, err
}
