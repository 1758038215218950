package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/sqlpeer"
)

// The peer most teams would build instead (internal/sqlpeer): the same events, as NDJSON,
// loaded raw into the ClickHouse engine and every figure computed by SQL at query time. It runs
// after earshot, on the same stream (the generator is deterministic), on the same machine, and
// its figures are checked against the same truth: a fast wrong answer is not a result.

// peerTiming is one run of the peer.
type peerTiming struct {
	load, query time.Duration
	live        []time.Duration // the minute query on the stream's prefixes
}

// peerResult is the medians of the peer's runs.
type peerResult struct {
	lines       int
	ndjsonBytes int64
	// load and query are medians of their own; both is the median of load + query per run.
	load, query, both time.Duration
	live              []time.Duration
	prefixes          []int // minutes of the live prefixes
	liveEvents        []int
}

// runPeer writes the stream's events to dir as NDJSON (generated again: the generator is
// deterministic), then runs times: a fresh table, the
// load, the queries checked against the truth, the live prefixes.
func runPeer(ctx context.Context, conn driver.Conn, sc sim.Scenario, truth *sim.Truth, dir string, runs int, prefixes []int) (*peerResult, error) {
	path, err := filepath.Abs(filepath.Join(dir, "stream.ndjson"))
	if err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer os.Remove(path)
	g := sim.NewGenerator(sc)
	cut := make([]int64, len(prefixes))
	for i, m := range prefixes {
		cut[i] = sc.Start.UnixMilli() + int64(m)*60_000
	}
	res := &peerResult{prefixes: prefixes, liveEvents: make([]int, len(prefixes))}
	counted := func(yield func(sim.Batch) bool) {
		for b := range g.All() {
			for _, e := range b.Events {
				for i, c := range cut {
					if e.TS < c {
						res.liveEvents[i]++
					}
				}
			}
			if !yield(b) {
				return
			}
		}
	}
	res.lines, err = sqlpeer.WriteNDJSON(f, counted)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil {
		res.ndjsonBytes = fi.Size()
	}
	var ts []peerTiming
	for i := range runs {
		t, err := peerOnce(ctx, conn, path, sc, truth, i, res.lines, cut)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	res.load = medianOf(ts, func(t peerTiming) time.Duration { return t.load })
	res.query = medianOf(ts, func(t peerTiming) time.Duration { return t.query })
	res.both = medianOf(ts, func(t peerTiming) time.Duration { return t.load + t.query })
	for j := range prefixes {
		res.live = append(res.live, medianOf(ts, func(t peerTiming) time.Duration { return t.live[j] }))
	}
	return res, nil
}

func peerOnce(ctx context.Context, conn driver.Conn, path string, sc sim.Scenario, truth *sim.Truth, i, lines int, cut []int64) (peerTiming, error) {
	var t peerTiming
	table := fmt.Sprintf("sqlpeer_%d", i)
	if err := sqlpeer.CreateTable(ctx, conn, table); err != nil {
		return t, err
	}
	defer conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)
	start := time.Now()
	if err := sqlpeer.LoadNDJSON(ctx, conn, table, path); err != nil {
		return t, err
	}
	t.load = time.Since(start)
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&rows); err != nil {
		return t, err
	}
	if rows != uint64(lines) {
		return t, fmt.Errorf("peer: loaded %d rows of %d lines", rows, lines)
	}
	start = time.Now()
	ms, err := sqlpeer.Minutes(ctx, conn, table, sc.StreamID)
	if err != nil {
		return t, err
	}
	tot, err := sqlpeer.Totals(ctx, conn, table, sc.StreamID)
	if err != nil {
		return t, err
	}
	t.query = time.Since(start)
	if diffs := sqlpeer.Check(ms, tot, truth); len(diffs) > 0 {
		for _, d := range diffs[:min(len(diffs), 20)] {
			fmt.Fprintln(os.Stderr, " ", d)
		}
		return t, fmt.Errorf("peer: %d figures differ from the truth", len(diffs))
	}
	for _, c := range cut {
		start := time.Now()
		if _, err := sqlpeer.MinutesUntil(ctx, conn, table, sc.StreamID, c); err != nil {
			return t, err
		}
		t.live = append(t.live, time.Since(start))
	}
	return t, nil
}

func medianOf(ts []peerTiming, f func(peerTiming) time.Duration) time.Duration {
	ds := make([]time.Duration, len(ts))
	for i, t := range ts {
		ds[i] = f(t)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// printPeer prints the peer's figures and earshot's ratio to it on the same stream.
func printPeer(p *peerResult, earshotLines int, earshotFinal time.Duration, visibleP99 float64) {
	ev := float64(p.lines)
	both := p.both
	fmt.Printf("\n  the SQL-at-query-time peer on the same %d event lines (%.0f MB NDJSON; medians of its runs; figures equal the truth):\n",
		p.lines, float64(p.ndjsonBytes)/1e6)
	fmt.Printf("    %-44s %9s %14s\n", "", "seconds", "events/s")
	fmt.Printf("    %-44s %9.1f %14.0f\n", "load (NDJSON → MergeTree)", p.load.Seconds(), ev/p.load.Seconds())
	fmt.Printf("    %-44s %9.1f %14.0f\n", "queries (minutes + totals)", p.query.Seconds(), ev/p.query.Seconds())
	fmt.Printf("    %-44s %9.1f %14.0f\n", "peer end to end (load + queries, once)", both.Seconds(), ev/both.Seconds())
	fmt.Printf("    %-44s %9.1f %14.0f\n", "earshot end to end (HTTP → … → final rows)", earshotFinal.Seconds(), float64(earshotLines)/earshotFinal.Seconds())
	fmt.Printf("    earshot ÷ peer, end to end: %.2f× — earshot wrote each partition's minute within %.1f s (p99) of the minute closing, while\n"+
		"    the stream was being sent; the peer has figures only when a query runs, over everything loaded so far\n",
		(float64(earshotLines)/earshotFinal.Seconds())/(ev/both.Seconds()), visibleP99)
	if len(p.prefixes) == 0 {
		return
	}
	fmt.Printf("    to be live, the peer re-runs the minute query at every refresh; here on the whole table restricted to ts before\n" +
		"    minute m of the stream (events timed by ts, not arrival: a lower bound on a live table's cost, which also holds later rows):\n")
	for i, m := range p.prefixes {
		fmt.Printf("      up to minute %3d: %10d events, %6.2f s per refresh = %5.2f× of the engine for a refresh every 2 s\n",
			m, p.liveEvents[i], p.live[i].Seconds(), p.live[i].Seconds()/2)
	}
	fmt.Printf("    (above 1× one engine cannot refresh one stream every 2 s for even one viewer; the cost grows with the stream's length)\n")
}
