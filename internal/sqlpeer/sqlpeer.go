// Package sqlpeer is the peer most teams would build instead of earshot: raw client events in a
// ClickHouse table, and every per-minute figure computed with SQL at query time — window
// functions for each listener's sessions and the 60 s session timeout, arrayJoin over minutes to
// split a heartbeat's audio across them, and a running sum over ±1 boundaries for the per-second
// peaks. It implements the SPEC's definitions exactly (sim.Oracle is the test), so that the
// benchmark (bench/night -peer) compares earshot with an honest alternative, not a strawman.
//
// The SQL lives in sql/*.sql; common.sql derives sessions and audio intervals, minutes.sql and
// totals.sql read them. ClickHouse has no include, so the Go code puts common.sql's WITH clause
// in front of either (the figures of both come from one definition).
package sqlpeer

import (
	"context"
	"embed"
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed sql/*.sql
var sqlFS embed.FS

func mustSQL(name string) string {
	b, err := sqlFS.ReadFile("sql/" + name)
	if err != nil {
		panic(err) // embedded at build time
	}
	return string(b)
}

var (
	commonSQL  = mustSQL("common.sql")
	minutesSQL = commonSQL + mustSQL("minutes.sql")
	totalsSQL  = commonSQL + mustSQL("totals.sql")
)

// Minute is one minute of a stream.
type Minute struct {
	Start time.Time
	// Connected: distinct listeners with a session touching the minute. Hearing: distinct
	// listeners with at least 2 000 ms of unmuted audio inside it.
	Connected, Hearing uint64
	// PeakConcurrent and PeakConcurrentHearing are the largest per-second counts in the minute.
	PeakConcurrent, PeakConcurrentHearing uint64
}

// StreamTotals are the whole stream's figures.
type StreamTotals struct {
	CumeConnected, CumeHearing            uint64
	PeakConcurrent, PeakConcurrentHearing uint64
}

// params binds the queries' parameters — the table, the stream, and the events' ts bound — and
// turns on the materialized CTEs common.sql uses.
func params(ctx context.Context, table, stream string, until int64) context.Context {
	return clickhouse.Context(ctx,
		clickhouse.WithParameters(clickhouse.Parameters{"table": table, "stream": stream, "until": fmt.Sprint(until)}),
		clickhouse.WithSettings(clickhouse.Settings{"enable_materialized_cte": 1}))
}

// Minutes computes every minute of stream from the events in table.
func Minutes(ctx context.Context, conn driver.Conn, table, stream string) ([]Minute, error) {
	return MinutesUntil(ctx, conn, table, stream, math.MaxInt64)
}

// MinutesUntil is Minutes over the events with ts before until (unix ms): what a dashboard
// refreshing a live stream would compute when those are the events that have arrived. Sessions
// still open then end by the timeout, as a live query would show them.
func MinutesUntil(ctx context.Context, conn driver.Conn, table, stream string, until int64) ([]Minute, error) {
	rows, err := conn.Query(params(ctx, table, stream, until), minutesSQL)
	if err != nil {
		return nil, fmt.Errorf("sqlpeer minutes: %w", err)
	}
	defer rows.Close()
	var out []Minute
	for rows.Next() {
		var ms int64
		var m Minute
		if err := rows.Scan(&ms, &m.Connected, &m.Hearing, &m.PeakConcurrent, &m.PeakConcurrentHearing); err != nil {
			return nil, fmt.Errorf("sqlpeer minutes: %w", err)
		}
		m.Start = time.UnixMilli(ms).UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlpeer minutes: %w", err)
	}
	return out, nil
}

// Totals computes the whole stream's figures from the events in table.
func Totals(ctx context.Context, conn driver.Conn, table, stream string) (StreamTotals, error) {
	var t StreamTotals
	err := conn.QueryRow(params(ctx, table, stream, math.MaxInt64), totalsSQL).
		Scan(&t.CumeConnected, &t.CumeHearing, &t.PeakConcurrent, &t.PeakConcurrentHearing)
	if err != nil {
		return StreamTotals{}, fmt.Errorf("sqlpeer totals: %w", err)
	}
	return t, nil
}
