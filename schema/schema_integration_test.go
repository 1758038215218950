package schema_test

import (
	"context"
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
	for _, table := range []string{"minute_stats", "quarter_stats", "listener_minutes", "listener_minutes_agg", "events_raw", "checkpoints", "claims", "stream_minutes", "stream_quarters"} {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = ?", table).Scan(&n); err != nil || n != 1 {
			t.Fatalf("table %s: %d, %v", table, n, err)
		}
	}
}
