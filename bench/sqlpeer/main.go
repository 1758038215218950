// Command sqlpeer-bench measures the peer most teams would build instead of earshot: raw events
// loaded into ClickHouse and every per-minute figure computed by SQL at query time
// (internal/sqlpeer). It generates a simulated stream shaped like the demo (a quarter never
// hears, 5 % muted, 30 % vanish, 2 % of batches retried; the audio starts after 60 % of the
// stream, as in the demo's 45 of 75 minutes), writes its events as NDJSON, and per run loads them
// into a fresh table and runs the queries, checking every figure against the simulator's exact
// answer (exit 1 on any difference: a fast wrong answer is not a result). It prints medians.
//
// It also measures what being live costs: a dashboard showing a live stream re-runs the minute
// query on the events that have arrived so far, so it times the query on the stream's prefix up
// to minute m for a few m, and what refreshing every 2 s would take from the engine.
//
//	go run ./bench/sqlpeer -listeners 200000 -minutes 30 -clickhouse 127.0.0.1:8123 -runs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/sqlpeer"
)

func main() {
	listeners := flag.Int("listeners", 200_000, "listeners in the stream")
	minutes := flag.Int("minutes", 30, "minutes of the stream")
	chAddr := flag.String("clickhouse", "127.0.0.1:8123", "ClickHouse HTTP address")
	runs := flag.Int("runs", 3, "runs (fresh table, load, queries); medians are printed")
	live := flag.String("live", "5,10,20,30", "minutes m of the live prefixes timed (those within -minutes)")
	flag.Parse()
	var prefixes []int
	for f := range strings.SplitSeq(*live, ",") {
		m, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || m <= 0 {
			fmt.Fprintf(os.Stderr, "sqlpeer-bench: -live %q: want minutes, comma-separated\n", *live)
			os.Exit(2)
		}
		if m <= *minutes {
			prefixes = append(prefixes, m)
		}
	}
	if *listeners <= 0 || *minutes <= 0 || *runs <= 0 {
		fmt.Fprintln(os.Stderr, "sqlpeer-bench: -listeners, -minutes and -runs must be positive")
		os.Exit(2)
	}
	if err := run(*listeners, *minutes, *chAddr, *runs, prefixes); err != nil {
		fmt.Fprintln(os.Stderr, "sqlpeer-bench:", err)
		os.Exit(1)
	}
}

// errMismatch: the SQL's figures differ from the oracle's.
var errMismatch = errors.New("the SQL's figures differ from the exact answer")

// timing is one run.
type timing struct {
	load, query time.Duration
	live        []time.Duration // by prefix
}

func run(listeners, minutes int, chAddr string, runs int, prefixes []int) error {
	sc := sim.DemoScenario(listeners)
	sc.StreamID = "sqlpeer-bench"
	sc.Duration = time.Duration(minutes) * time.Minute
	sc.AudioDelay = sc.Duration * 45 / 75
	genStart := time.Now()
	st := sim.Generate(sc)
	truth := sim.Oracle(st)
	gen := time.Since(genStart)

	path := filepath.Join(os.TempDir(), fmt.Sprintf("sqlpeer-bench-%d.ndjson", os.Getpid()))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	lines, err := sqlpeer.WriteNDJSON(f, st)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Printf("sqlpeer bench: %d listeners, %d min (audio from minute %d), %d event lines (%.0f MB NDJSON, copies included), generated in %s; ClickHouse at %s; medians of %d runs\n\n",
		listeners, minutes, int(sc.AudioDelay.Minutes()), lines, float64(fi.Size())/1e6, gen.Round(time.Millisecond), chAddr, runs)

	cfg := chconn.DefaultConfig()
	cfg.Addr = chAddr
	cfg.ReadTimeout = time.Hour // the queries are the thing measured; let them finish
	ctx := context.Background()
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()

	var ts []timing
	for i := range runs {
		t, err := once(ctx, conn, path, sc, truth, i, lines, prefixes)
		if err != nil {
			return err
		}
		ts = append(ts, t)
		fmt.Printf("  run %d: load %s, queries %s\n", i+1, t.load.Round(time.Millisecond), t.query.Round(time.Millisecond))
	}
	load := median(ts, func(t timing) time.Duration { return t.load })
	query := median(ts, func(t timing) time.Duration { return t.query })
	both := median(ts, func(t timing) time.Duration { return t.load + t.query })
	ev := float64(lines)
	fmt.Printf("\n  %-38s %12s %14s\n", "", "seconds", "events/s")
	fmt.Printf("  %-38s %12.2f %14.0f\n", "load (NDJSON → MergeTree)", load.Seconds(), ev/load.Seconds())
	fmt.Printf("  %-38s %12.2f %14.0f\n", "queries (minutes + totals)", query.Seconds(), ev/query.Seconds())
	fmt.Printf("  %-38s %12.2f %14.0f\n", "end to end (load + queries)", both.Seconds(), ev/both.Seconds())
	fmt.Printf("  figures: every minute and the totals equal the oracle (cume %d, cume hearing %d, peak %d, peak hearing %d)\n",
		truth.CumeConnected, truth.CumeHearing, truth.PeakConcurrent, truth.PeakHearing)

	if len(prefixes) > 0 {
		fmt.Printf("\n  live: the minute query over the events up to minute m (what each refresh of a live dashboard re-runs)\n")
		fmt.Printf("  %-8s %14s %16s %22s\n", "m", "events", "s per refresh", "engine share at 2 s")
		for j, m := range prefixes {
			d := median(ts, func(t timing) time.Duration { return t.live[j] })
			n := eventsBefore(st, sc.Start.UnixMilli()+int64(m)*60_000)
			fmt.Printf("  %-8d %14d %16.2f %21.2f×\n", m, n, d.Seconds(), d.Seconds()/2)
		}
		fmt.Printf("  (\"engine share\": seconds of query per 2 s of wall clock; above 1× one engine cannot keep up with a 2-s refresh for one viewer's stream)\n")
	}
	return nil
}

// once is one run: a fresh table, the load, the queries checked against the truth, the live
// prefixes; the table is dropped after.
func once(ctx context.Context, conn driver.Conn, path string, sc sim.Scenario, truth *sim.Truth, i, lines int, prefixes []int) (timing, error) {
	var t timing
	table := fmt.Sprintf("sqlpeer_bench_%d_%d", os.Getpid(), i)
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
		return t, fmt.Errorf("loaded %d rows of %d lines", rows, lines)
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
		return t, fmt.Errorf("%w: %d differences", errMismatch, len(diffs))
	}
	for _, m := range prefixes {
		start := time.Now()
		if _, err := sqlpeer.MinutesUntil(ctx, conn, table, sc.StreamID, sc.Start.UnixMilli()+int64(m)*60_000); err != nil {
			return t, err
		}
		t.live = append(t.live, time.Since(start))
	}
	return t, nil
}

// eventsBefore counts the events sent (copies included) with ts before until.
func eventsBefore(st *sim.Stream, until int64) int {
	n := 0
	for _, b := range st.Batches {
		for _, e := range b {
			if e.TS < until {
				n++
			}
		}
	}
	return n
}

func median(ts []timing, f func(timing) time.Duration) time.Duration {
	ds := make([]time.Duration, len(ts))
	for i, t := range ts {
		ds[i] = f(t)
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}
