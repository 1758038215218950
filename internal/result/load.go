package result

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
)

// Tolerance is the default relative tolerance of verdicts: public figures are rounded, so a
// claim within 5 % of the measured interval is consistent.
const Tolerance = 0.05

// Load reads the stream's report over [from, to) (zero times: all of it) and its stored claims
// plus extra ones (not stored: `earshot check` without --save), checks every claim and builds
// the result. A stream without data gives a result with status no_data and its claims not
// measurable.
//
// Claims are checked against the whole stream whatever the range (docs/report.md: a cume claim
// with the distinct listeners over the stream, a concurrent one without said_at with the
// stream's peak, one with said_at with its minute even outside the range).
func Load(ctx context.Context, conn driver.Conn, stream string, from, to time.Time, tolerance float64, extra ...claims.Claim) (*Result, error) {
	r, err := loadReport(ctx, conn, stream, from, to)
	if err != nil {
		return nil, err
	}
	whole := r
	if !from.IsZero() || !to.IsZero() {
		if whole, err = loadReport(ctx, conn, stream, time.Time{}, time.Time{}); err != nil {
			return nil, err
		}
	}
	stored, err := claims.ForStream(ctx, conn, stream)
	if err != nil {
		return nil, err
	}
	// A claim stated now (extra) replaces a stored one with its id: `earshot check` shows what
	// was typed, not what was saved under the same derived id before.
	cs := make([]claims.Claim, 0, len(stored)+len(extra))
	for _, c := range stored {
		if !slices.ContainsFunc(extra, func(e claims.Claim) bool { return e.ID == c.ID }) {
			cs = append(cs, c)
		}
	}
	return checked(stream, r, whole, append(cs, extra...), tolerance), nil
}

// loadReport is report.Load with no data as a nil report.
func loadReport(ctx context.Context, conn driver.Conn, stream string, from, to time.Time) (*report.Stream, error) {
	r, err := report.Load(ctx, conn, stream, from, to)
	if errors.Is(err, report.ErrNoData) {
		return nil, nil
	}
	return r, err
}

// checked is the result of r (the range shown) with cs checked against whole (the whole
// stream; r itself when the range is the whole stream).
func checked(stream string, r, whole *report.Stream, cs []claims.Claim, tolerance float64) *Result {
	vs := make([]claims.Verdict, len(cs))
	for i, c := range cs {
		vs[i] = claims.Check(c, whole, tolerance)
	}
	return build(stream, r, whole, vs)
}
