package schema_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/testenv"
	"github.com/earshot/earshot/schema"
)

// TestClusterDDL derives the cluster schema from a freshly migrated database and has the engine
// parse every statement (formatQuery: the local engine has no cluster to run them on): one
// replicated local table and one Distributed table for every table, every view on the cluster
// after the views it reads.
func TestClusterDDL(t *testing.T) {
	conn := testenv.MigratedClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var tables, views uint64
	if err := conn.QueryRow(ctx, `SELECT countIf(engine LIKE '%MergeTree'), countIf(engine = 'View') FROM system.tables WHERE database = currentDatabase()`).Scan(&tables, &views); err != nil {
		t.Fatal(err)
	}
	var db string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	sts, err := schema.Cluster(ctx, conn, db, "earshot_cluster", "earshot")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(sts), 1+2*int(tables)+int(views)+1; got != want { // + the migrations recorded
		t.Errorf("%d statements for %d tables and %d views, want %d", got, tables, views, want)
	}
	var replicated, distributed, viewSts int
	created := map[string]bool{}
	var allViews []string
	for _, st := range sts {
		if rest, ok := strings.CutPrefix(st, "CREATE VIEW IF NOT EXISTS earshot."); ok {
			allViews = append(allViews, strings.Fields(rest)[0])
		}
	}
	for _, st := range sts {
		var formatted string
		if err := conn.QueryRow(ctx, "SELECT formatQuery(?)", st).Scan(&formatted); err != nil {
			t.Errorf("the engine does not parse %q: %v", st, err)
		}
		if strings.HasPrefix(st, "INSERT INTO earshot.schema_migrations ") {
			continue // one insert through the Distributed table: INSERT has no ON CLUSTER
		}
		if !strings.Contains(st, " ON CLUSTER earshot_cluster") || strings.Contains(st, db+".") {
			t.Errorf("not for the cluster's database: %q", st)
		}
		switch {
		case strings.Contains(st, "ENGINE = Replicated"):
			replicated++
			if !strings.Contains(st, "'/clickhouse/tables/{shard}/earshot/") || !strings.Contains(st, "_local ON CLUSTER") {
				t.Errorf("replicated table: %q", st)
			}
		case strings.Contains(st, "ENGINE = Distributed(earshot_cluster, earshot, "):
			distributed++
		case strings.HasPrefix(st, "CREATE VIEW IF NOT EXISTS earshot."):
			viewSts++
			name := strings.Fields(strings.TrimPrefix(st, "CREATE VIEW IF NOT EXISTS earshot."))[0]
			for _, other := range allViews {
				if other != name && !created[other] && strings.Contains(st, "earshot."+other+" ") {
					t.Errorf("view %s reads %s, created after it", name, other)
				}
			}
			created[name] = true
		}
	}
	if replicated != int(tables) || distributed != int(tables) || viewSts != int(views) {
		t.Errorf("%d replicated, %d distributed, %d views; want %d, %d, %d", replicated, distributed, viewSts, tables, tables, views)
	}
	// stream_minutes reads minute_stats (a Distributed table) by stream: its rows are sharded
	// by stream_id, so FINAL meets every version of a row on one shard.
	for _, st := range sts {
		if strings.Contains(st, "earshot.minute_stats ON CLUSTER") && !strings.Contains(st, "sipHash64(stream_id)") {
			t.Errorf("minute_stats is not sharded by stream: %q", st)
		}
	}
}
