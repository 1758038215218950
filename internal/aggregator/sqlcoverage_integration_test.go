package aggregator_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/earshot/earshot/internal/testenv"
)

// TestSQLAnyRangeCoverage runs the cookbook's any_range_distinct query (docs/sql.md) — its
// uniqCombined64 counts and the 95 % intervals of its error model — over synthetic streams of
// known size, and checks the intervals cover the truth 93–97 % of the time in each band. The
// streams' uniqCombined64 states are built by the engine from sipHash64 keys, ten minutes each,
// in a table shaped like listener_minutes_agg; the query is run as documented, on that table.
// The 1–5 million band runs with EARSHOT_SQL_COVERAGE_LARGE=1 (make bench).
func TestSQLAnyRangeCoverage(t *testing.T) {
	conn := testenv.ClickHouseDB(t)
	ctx := context.Background()
	if err := conn.Exec(ctx, `CREATE TABLE cov_states (
			stream_id String, minute DateTime('UTC'),
			connected AggregateFunction(uniqCombined64, UInt64),
			hearing   AggregateFunction(uniqCombined64, UInt64),
			qualified AggregateFunction(uniqCombined64, UInt64)
		) ENGINE = MergeTree ORDER BY (stream_id, minute)`); err != nil {
		t.Fatal(err)
	}
	query := cookbook(t)["any_range_distinct"]
	if !strings.Contains(query, "FROM listener_minutes_agg") {
		t.Fatal("any_range_distinct no longer reads listener_minutes_agg: update this test")
	}
	query = strings.Replace(query, "FROM listener_minutes_agg", "FROM cov_states", 1)
	bands := []struct {
		lo, hi float64
		seeds  int
	}{{4097, 10_000, 300}, {10_000, 100_000, 300}, {100_000, 1_000_000, 200}}
	if os.Getenv("EARSHOT_SQL_COVERAGE_LARGE") == "1" {
		bands = append(bands, struct {
			lo, hi float64
			seeds  int
		}{1_000_000, 5_000_000, 200})
	}
	start := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	for b, band := range bands {
		// n log-uniform in the band, one stream a seed; the keys' seed is the stream's number.
		r := rand.New(rand.NewPCG(uint64(b), 0x5c1))
		ns := make([]int, band.seeds)
		pairs := make([]string, band.seeds)
		for i := range ns {
			ns[i] = int(math.Exp(math.Log(band.lo) + r.Float64()*(math.Log(band.hi)-math.Log(band.lo))))
			pairs[i] = fmt.Sprintf("(%d,%d)", b*10_000+i, ns[i])
		}
		// In chunks of at most 20 million keys: the engine caps the arrays ARRAY JOIN builds.
		for lo := 0; lo < len(pairs); {
			hi, keys := lo, 0
			for hi < len(pairs) && (hi == lo || keys+ns[hi] <= 20_000_000) {
				keys += ns[hi]
				hi++
			}
			if err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO cov_states
				SELECT concat('cov-', toString(p.1)), toDateTime('%s', 'UTC') + 60 * (number %% 10),
				       uniqCombined64State(sipHash64(number, p.1)), uniqCombined64State(sipHash64(number, p.1)),
				       uniqCombined64State(sipHash64(number, p.1))
				FROM (SELECT arrayJoin([%s]) AS p) ARRAY JOIN range(p.2) AS number
				GROUP BY p, number %% 10`, start.Format(time.DateTime), strings.Join(pairs[lo:hi], ","))); err != nil {
				t.Fatal(err)
			}
			lo = hi
		}
		covered := 0
		for i, n := range ns {
			qctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
				"stream": fmt.Sprintf("cov-%d", b*10_000+i), "from": start.Format(time.DateTime), "to": start.Add(10 * time.Minute).Format(time.DateTime)}))
			var c, h, q uint64
			var cLo, cHi, hLo, hHi, qLo, qHi float64
			if err := conn.QueryRow(qctx, query).Scan(&c, &cLo, &cHi, &h, &hLo, &hHi, &q, &qLo, &qHi); err != nil {
				t.Fatal(err)
			}
			if c != h || c != q || cLo != hLo || cHi != qHi {
				t.Fatalf("stream %d: the three counts of the same keys differ: %d %d %d", i, c, h, q)
			}
			if cLo <= float64(n) && float64(n) <= cHi {
				covered++
			}
		}
		pct := 100 * float64(covered) / float64(band.seeds)
		t.Logf("SQL any-range count, %.0f–%.0f: %d/%d = %.1f %% covered", band.lo, band.hi, covered, band.seeds, pct)
		if pct < 93 || pct > 97 {
			t.Errorf("%.0f–%.0f: the 95 %% intervals covered the truth %.1f %% of the time, want 93–97 %%", band.lo, band.hi, pct)
		}
	}
}
