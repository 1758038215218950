package schema

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// fakeConn answers Cluster's one query, on system.tables, with fixed rows.
type fakeConn struct {
	driver.Conn
	rows [][4]string
}

func (c *fakeConn) Query(context.Context, string, ...any) (driver.Rows, error) {
	return &fakeRows{rows: c.rows, i: -1}, nil
}

type fakeRows struct {
	driver.Rows
	rows [][4]string
	i    int
}

func (r *fakeRows) Next() bool { r.i++; return r.i < len(r.rows) }
func (r *fakeRows) Scan(dest ...any) error {
	for k := range dest {
		*dest[k].(*string) = r.rows[r.i][k]
	}
	return nil
}
func (r *fakeRows) Close() error { return nil }
func (r *fakeRows) Err() error   { return nil }

// TestClusterRecordsTheMigrations: the cluster's schema is the schema after every migration, but
// its schema_migrations table was created empty. `earshot migrate` (documented as idempotent)
// or `aggregator --migrate` against the cluster then re-ran every migration from 001 — and 003
// renames minute_stats and quarter_stats and drops listener_minutes: the Distributed tables
// would be replaced by plain, unreplicated tables on one node. The DDL must record the
// migrations it embodies.
func TestClusterRecordsTheMigrations(t *testing.T) {
	conn := &fakeConn{rows: [][4]string{
		{"minute_stats", "ReplacingMergeTree", "stream_id, minute, partition",
			"CREATE TABLE scratch.minute_stats (`stream_id` String, `version` UInt64, `deleted` UInt8) ENGINE = ReplacingMergeTree(version, deleted) ORDER BY (stream_id, minute, partition) SETTINGS index_granularity = 8192"},
		{"schema_migrations", "ReplacingMergeTree", "version",
			"CREATE TABLE scratch.schema_migrations (`version` UInt32, `name` String, `applied_at` DateTime('UTC') DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version SETTINGS index_granularity = 8192"},
	}}
	sts, err := Cluster(context.Background(), conn, "scratch", "c1", "earshot")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(sts, ";\n")
	for _, m := range ms {
		if !strings.Contains(all, fmt.Sprintf("(%d, '%s')", m.Version, m.Name)) {
			t.Errorf("migration %s is not recorded in the cluster's schema_migrations:\n%s", m.Name, all)
		}
	}
	last := sts[len(sts)-1]
	if !strings.HasPrefix(last, "INSERT INTO earshot.schema_migrations (version, name) VALUES ") {
		t.Errorf("last statement %q, want the migrations recorded after the tables", last)
	}
}
