package chconn_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/testenv"
)

func open(t *testing.T) driver.Conn {
	t.Helper()
	cfg := chconn.DefaultConfig()
	cfg.Addr = testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestPingAndVersion(t *testing.T) {
	conn := open(t)
	ctx := context.Background()
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version == "" {
		t.Fatal("empty version")
	}
	sv, err := conn.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if sv.Version.Major < 24 {
		t.Fatalf("engine version %v is older than the 24.x this project targets", sv.Version)
	}
	var one uint8
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

type mixedRow struct {
	ID      uint64
	Name    string
	At      time.Time
	Kind    string
	Tags    []string
	Maybe   *int32
	Version uint64
}

func TestMergeTreeFamilyBatchInsertAndQuery(t *testing.T) {
	conn := open(t)
	ctx := context.Background()
	tbl := testenv.Name(t, "t")
	ddl := []string{
		fmt.Sprintf(`CREATE TABLE %s (
			id UInt64, name String, at DateTime64(3, 'UTC'), kind LowCardinality(String),
			tags Array(String), maybe Nullable(Int32), version UInt64
		) ENGINE = ReplacingMergeTree(version) ORDER BY id`, tbl),
		fmt.Sprintf(`CREATE TABLE %s_agg (kind LowCardinality(String), n AggregateFunction(uniqCombined64, UInt64),
			total SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree ORDER BY kind`, tbl),
		fmt.Sprintf(`CREATE MATERIALIZED VIEW %s_mv TO %s_agg AS
			SELECT kind, uniqCombined64State(id) AS n, sum(toUInt64(1)) AS total FROM %s GROUP BY kind`, tbl, tbl, tbl),
	}
	for _, q := range ddl {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		for _, s := range []string{"DROP VIEW IF EXISTS %s_mv", "DROP TABLE IF EXISTS %s_agg", "DROP TABLE IF EXISTS %s"} {
			_ = conn.Exec(context.Background(), fmt.Sprintf(s, tbl))
		}
	})

	const n = 12_000
	base := time.Date(2024, 8, 12, 23, 0, 0, 0, time.UTC)
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+tbl)
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[uint64]mixedRow, n)
	for i := range n {
		r := mixedRow{
			ID: uint64(i), Name: fmt.Sprintf("listener-%d", i), At: base.Add(time.Duration(i) * time.Millisecond),
			Kind: []string{"join", "leave", "heartbeat"}[i%3], Tags: []string{"a", fmt.Sprint(i % 7)}, Version: 1,
		}
		if i%2 == 0 {
			v := int32(-i)
			r.Maybe = &v
		}
		want[r.ID] = r
		if err := batch.Append(r.ID, r.Name, r.At, r.Kind, r.Tags, r.Maybe, r.Version); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}

	var count uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+tbl).Scan(&count); err != nil || count != n {
		t.Fatalf("count = %d, %v; want %d", count, err, n)
	}
	// Parameterized read-back of a range, compared field by field.
	rows, err := conn.Query(clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"lo": "100", "hi": "199", "kind": "join"})),
		fmt.Sprintf("SELECT id, name, at, kind, tags, maybe, version FROM %s WHERE id BETWEEN {lo:UInt64} AND {hi:UInt64} AND kind = {kind:String} ORDER BY id", tbl))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		var r mixedRow
		if err := rows.Scan(&r.ID, &r.Name, &r.At, &r.Kind, &r.Tags, &r.Maybe, &r.Version); err != nil {
			t.Fatal(err)
		}
		w := want[r.ID]
		if r.Name != w.Name || !r.At.Equal(w.At) || r.Kind != w.Kind || fmt.Sprint(r.Tags) != fmt.Sprint(w.Tags) ||
			(r.Maybe == nil) != (w.Maybe == nil) || (r.Maybe != nil && *r.Maybe != *w.Maybe) {
			t.Fatalf("row %d: got %+v want %+v", r.ID, r, w)
		}
		got++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got != 33 { // ids 102, 105, ..., 198 are kind "join"
		t.Fatalf("parameterized query returned %d rows, want 33", got)
	}

	// The materialized view fed the AggregatingMergeTree.
	var distinct, total uint64
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT uniqCombined64Merge(n), sum(total) FROM %s_agg", tbl)).Scan(&distinct, &total); err != nil {
		t.Fatal(err)
	}
	if total != n || distinct < n*99/100 || distinct > n*101/100 {
		t.Fatalf("aggregate: distinct=%d total=%d, want ~%d and %d", distinct, total, n, n)
	}

	// ReplacingMergeTree collapses a re-inserted row to the higher version under FINAL.
	b2, err := conn.PrepareBatch(ctx, "INSERT INTO "+tbl)
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Append(uint64(5), "replaced", base, "join", []string{}, nil, uint64(2)); err != nil {
		t.Fatal(err)
	}
	if err := b2.Send(); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT name FROM %s FINAL WHERE id = 5", tbl)).Scan(&name); err != nil || name != "replaced" {
		t.Fatalf("FINAL name = %q, %v", name, err)
	}
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s FINAL", tbl)).Scan(&count); err != nil || count != n {
		t.Fatalf("FINAL count = %d, %v; want %d", count, err, n)
	}
}

func TestErrorsCarryClickHouseCodes(t *testing.T) {
	conn := open(t)
	ctx := context.Background()
	check := func(query string, code int32, fragment string) {
		t.Helper()
		err := conn.Exec(ctx, query)
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) {
			t.Fatalf("%q: want *clickhouse.Exception, got %T %v", query, err, err)
		}
		if ex.Code != code {
			t.Fatalf("%q: code %d (%s), want %d", query, ex.Code, ex.Message, code)
		}
		if fragment != "" && !strings.Contains(ex.Message, fragment) {
			t.Fatalf("%q: message %q lacks %q", query, ex.Message, fragment)
		}
	}
	check("SELECT * FROM no_such_table_earshot", 60, "no_such_table_earshot") // UNKNOWN_TABLE
	check("SELECT nosuchcolumn", 47, "nosuchcolumn")                          // UNKNOWN_IDENTIFIER
	check("SELEC 1", 62, "Syntax error")                                      // SYNTAX_ERROR
	check("SELECT throwIf(1, 'earshot boom')", 395, "earshot boom")           // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
}

func TestConcurrentQueries(t *testing.T) {
	conn := open(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				var sum uint64
				want := uint64(g*1000+i) * uint64(g*1000+i-1) / 2
				if err := conn.QueryRow(context.Background(), "SELECT sum(number) FROM numbers({n:UInt64})",
					clickhouse.Named("n", fmt.Sprint(g*1000+i))).Scan(&sum); err != nil {
					errs <- err
					return
				}
				if g*1000+i > 0 && sum != want {
					errs <- fmt.Errorf("goroutine %d: sum %d want %d", g, sum, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
