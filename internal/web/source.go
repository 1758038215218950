package web

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/result"
)

// maxStreams bounds the stream list: the page is for finding a recent stream, and an archive
// of years of streams would make every visit to / scan them all. Analysts have SQL.
const maxStreams = 500

// ClickHouseSource reads streams from ClickHouse, as `earshot report` does: report.Load,
// the stream's stored claims checked with claims.Check at the given relative tolerance
// (0.05: public figures are rounded), and result.Build. It only reads, so it can run with the
// earshot_analyst role.
func ClickHouseSource(conn driver.Conn, tolerance float64) Source {
	return &chSource{conn: conn, tolerance: tolerance}
}

type chSource struct {
	conn      driver.Conn
	tolerance float64
}

// Streams reads the list from the stream_minutes view (one row per stream and minute,
// partitions summed; docs/sql.md). A stream is final when all of its minutes are.
func (s *chSource) Streams(ctx context.Context) ([]StreamInfo, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT stream_id, min(minute) AS first, max(minute) AS last,
			toUInt64(max(peak_concurrent)) AS peak, toUInt8(min(final)) AS final
		FROM stream_minutes
		GROUP BY stream_id
		ORDER BY last DESC, stream_id
		LIMIT %d`, maxStreams))
	if err != nil {
		return nil, fmt.Errorf("cannot read the stream list: %w", err)
	}
	defer rows.Close()
	out := []StreamInfo{}
	for rows.Next() {
		var (
			si    StreamInfo
			final uint8
		)
		if err := rows.Scan(&si.ID, &si.First, &si.Last, &si.Peak, &final); err != nil {
			return nil, fmt.Errorf("cannot read the stream list: %w", err)
		}
		si.First, si.Last = si.First.UTC(), si.Last.UTC()
		si.Status = result.StatusProvisional
		if final == 1 {
			si.Status = result.StatusFinal
		}
		out = append(out, si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read the stream list: %w", err)
	}
	return out, nil
}

// Result is the stream's result over all its minutes (result.Load, as `earshot report`). A
// stream without measurements but with claims is known (its claims are not measurable, which a
// reader should see); one with neither is ErrUnknownStream, so that a mistyped id is a 404 and
// not an empty page.
func (s *chSource) Result(ctx context.Context, stream string) (*result.Result, error) {
	res, err := result.Load(ctx, s.conn, stream, time.Time{}, time.Time{}, s.tolerance)
	if err != nil {
		return nil, fmt.Errorf("cannot load the result of %q: %w", stream, err)
	}
	if res.Totals == nil && len(res.Claims) == 0 {
		return nil, ErrUnknownStream
	}
	return res, nil
}
