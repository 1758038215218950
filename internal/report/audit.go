package report

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/sketch"
)

// Audit compares three counts of a stream's distinct connected listeners: exact over the raw
// events (uniqExact), earshot's sketches (what reports use), and ClickHouse's own
// uniqCombined64 states fed by listener_minutes.
type Audit struct {
	Exact  uint64
	Sketch sketch.Count
	SQL    uint64
}

// Covered reports whether the exact count lies in the sketch's 95 % interval.
func (a Audit) Covered() bool {
	return float64(a.Exact) >= a.Sketch.Lo && float64(a.Exact) <= a.Sketch.Hi
}

// RunAudit computes the Audit of stream. Listeners with a session are those who sent a join,
// heartbeat or play (a leave or an error alone starts none).
func RunAudit(ctx context.Context, conn driver.Conn, stream string) (Audit, error) {
	var a Audit
	if err := conn.QueryRow(ctx, `SELECT uniqExact(listener) FROM events_raw FINAL
		WHERE stream_id = ? AND type IN ('join', 'heartbeat', 'play')`, stream).Scan(&a.Exact); err != nil {
		return a, fmt.Errorf("cannot count raw events: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT uniqCombined64Merge(connected) FROM listener_minutes_agg WHERE stream_id = ?`, stream).Scan(&a.SQL); err != nil {
		return a, fmt.Errorf("cannot read listener_minutes_agg: %w", err)
	}
	r, err := Load(ctx, conn, stream, time.Time{}, time.Time{})
	if err != nil {
		return a, err
	}
	a.Sketch = r.CumeConnected
	return a, nil
}
