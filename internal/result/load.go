package result

import (
	"context"
	"errors"
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
func Load(ctx context.Context, conn driver.Conn, stream string, from, to time.Time, tolerance float64, extra ...claims.Claim) (*Result, error) {
	r, err := report.Load(ctx, conn, stream, from, to)
	if err != nil && !errors.Is(err, report.ErrNoData) {
		return nil, err
	}
	cs, err := claims.ForStream(ctx, conn, stream)
	if err != nil {
		return nil, err
	}
	cs = append(cs, extra...)
	vs := make([]claims.Verdict, len(cs))
	for i, c := range cs {
		vs[i] = claims.Check(c, r, tolerance)
	}
	return Build(stream, r, vs), nil
}
