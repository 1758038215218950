package schema_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/schema"
)

func TestMigrateIsIdempotent(t *testing.T) {
	conn := testenv.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, err := schema.Apply(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := schema.Migrations()
	if len(first) != len(ms) {
		t.Fatalf("applied %v, want all %d migrations", first, len(ms))
	}
	again, err := schema.Apply(ctx, conn)
	if err != nil || len(again) != 0 {
		t.Fatalf("second run applied %v, %v", again, err)
	}
	for _, table := range []string{"minute_stats", "quarter_stats", "listener_minutes", "listener_minutes_agg", "events_raw", "checkpoints", "checkpoint_chunks", "claims", "stream_minutes", "stream_quarters", "delivery_stats", "stream_clocks", "stream_delivery", "stream_hours"} {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", table).Scan(&n); err != nil || n != 1 {
			t.Fatalf("table %s: %d, %v", table, n, err)
		}
	}
}

// TestMigration3KeepsEarlierRows: a database written by the release before migration 3 keeps
// its figures: minute and quarter rows (marked final), delivery counts (moved to
// delivery_stats) and the SQL distinct-count states (still merged by listener_minutes_agg).
func TestMigration3KeepsEarlierRows(t *testing.T) {
	conn := testenv.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		for _, st := range m.Statements {
			if err := conn.Exec(ctx, st); err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
		}
	}
	for _, q := range []string{
		`INSERT INTO minute_stats (stream_id, minute, partition, version, connected, connected_exact, joins, late, duplicates, too_late)
		 VALUES ('old', '2024-08-13 00:00:00', 3, 7, 2, 1, 2, 1, 4, 0)`,
		`INSERT INTO quarter_stats VALUES ('old', '2024-08-13 00:00:00', 3, 7, 5)`,
		`INSERT INTO listener_minutes VALUES ('old', '2024-08-13 00:00:00', 11, 3, 0), ('old', '2024-08-13 00:01:00', 12, 1, 0)`,
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := schema.Apply(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var joins, late, dup, aqh, distinct uint64
	var final uint8
	if err := conn.QueryRow(ctx, `SELECT joins, final FROM minute_stats FINAL WHERE stream_id = 'old'`).Scan(&joins, &final); err != nil || joins != 2 || final != 1 {
		t.Fatalf("minute row: joins %d final %d, %v", joins, final, err)
	}
	if err := conn.QueryRow(ctx, `SELECT late, duplicates FROM stream_delivery WHERE stream_id = 'old'`).Scan(&late, &dup); err != nil || late != 1 || dup != 4 {
		t.Fatalf("delivery: late %d duplicates %d, %v", late, dup, err)
	}
	if err := conn.QueryRow(ctx, `SELECT aqh_persons FROM stream_quarters WHERE stream_id = 'old'`).Scan(&aqh); err != nil || aqh != 5 {
		t.Fatalf("AQH %d, %v", aqh, err)
	}
	if err := conn.QueryRow(ctx, `SELECT uniqCombined64Merge(connected) FROM listener_minutes_agg WHERE stream_id = 'old'`).Scan(&distinct); err != nil || distinct != 2 {
		t.Fatalf("distinct over the old states %d, %v", distinct, err)
	}
}

// TestRolesParse: the development engine cannot enforce roles, but its parser is the server's:
// every statement of roles/roles.sql must be one it reads (formatQuery parses without running).
func TestRolesParse(t *testing.T) {
	conn := testenv.ClickHouseDB(t)
	sts, err := schema.Roles("earshot")
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 6 {
		t.Fatalf("%d role statements: %q", len(sts), sts)
	}
	for _, st := range sts {
		var formatted string
		if err := conn.QueryRow(context.Background(), "SELECT formatQuery(?)", st).Scan(&formatted); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		if !strings.Contains(formatted, "earshot") {
			t.Fatalf("%s formatted as %q", st, formatted)
		}
	}
	if _, err := schema.Roles("earshot; DROP TABLE x"); err == nil {
		t.Fatal("a database name that is not an identifier was accepted")
	}
}
