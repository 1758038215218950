package schema

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Cluster is the DDL of earshot's schema for a ClickHouse cluster: every table of the migrated
// schema as a Replicated*MergeTree table `name_local` on every shard, with a Distributed table
// under the original name in front of it, and every view on the cluster reading those. The
// programs keep writing and reading the names they know; the Distributed tables spread the rows
// by a hash of stream_id (or, for tables not keyed by stream, of their whole sorting key), so that
// every version of a row lands on one shard and ReplacingMergeTree's FINAL still finds them
// together.
//
// It is derived from a database migrated by Apply (what system.tables says of it), not from the
// migration files, so that it is the schema as it stands after every migration — a new cluster
// starts there.
func Cluster(ctx context.Context, src driver.Conn, database, cluster, target string) ([]string, error) {
	for _, id := range []string{cluster, target} {
		if !identifier.MatchString(id) {
			return nil, fmt.Errorf("%q: cluster and database names must be plain identifiers", id)
		}
	}
	rows, err := src.Query(ctx, `SELECT name, engine, sorting_key, create_table_query FROM system.tables
		WHERE database = ? ORDER BY name`, database)
	if err != nil {
		return nil, fmt.Errorf("cannot read the migrated schema: %w", err)
	}
	defer rows.Close()
	type table struct{ name, engine, key, create string }
	var tables, views []table
	for rows.Next() {
		var t table
		if err := rows.Scan(&t.name, &t.engine, &t.key, &t.create); err != nil {
			return nil, err
		}
		t.create = strings.ReplaceAll(t.create, database+".", target+".")
		switch {
		case t.engine == "View":
			views = append(views, t)
		case strings.HasSuffix(t.engine, "MergeTree"):
			tables = append(tables, t)
		default:
			return nil, fmt.Errorf("table %s: engine %s has no cluster form here", t.name, t.engine)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []string{fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s ON CLUSTER %s", target, cluster)}
	for _, t := range tables {
		local, err := replicated(t.create, target, t.name, cluster)
		if err != nil {
			return nil, err
		}
		out = append(out, local, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %[1]s.%[2]s ON CLUSTER %[3]s AS %[1]s.%[2]s_local ENGINE = Distributed(%[3]s, %[1]s, %[2]s_local, %[4]s)",
			target, t.name, cluster, shardingKey(t.key)))
	}
	// Views after the views they read: CREATE VIEW analyses its query, so what it reads must
	// exist.
	reads := func(v table, name string) bool {
		return regexp.MustCompile(`\b` + regexp.QuoteMeta(target+"."+name) + `\b`).MatchString(v.create)
	}
	done := map[string]bool{}
	for len(done) < len(views) {
		progress := false
		for _, v := range views {
			if done[v.name] {
				continue
			}
			ready := true
			for _, w := range views {
				if w.name != v.name && !done[w.name] && reads(v, w.name) {
					ready = false
				}
			}
			if ready {
				out = append(out, strings.Replace(v.create, "CREATE VIEW "+target+"."+v.name+" ", "CREATE VIEW IF NOT EXISTS "+target+"."+v.name+" ON CLUSTER "+cluster+" ", 1))
				done[v.name], progress = true, true
			}
		}
		if !progress {
			return nil, fmt.Errorf("the views read each other in a cycle")
		}
	}
	// The cluster starts where every migration has been applied: record them, or `earshot
	// migrate` against it would run them all again (003 renames and drops tables, which would
	// replace Distributed tables by plain ones on one node).
	for _, t := range tables {
		if t.name != "schema_migrations" {
			continue
		}
		ms, err := Migrations()
		if err != nil {
			return nil, err
		}
		values := make([]string, len(ms))
		for i, m := range ms {
			values[i] = fmt.Sprintf("(%d, '%s')", m.Version, strings.ReplaceAll(m.Name, "'", "\\'"))
		}
		out = append(out, fmt.Sprintf("INSERT INTO %s.schema_migrations (version, name) VALUES %s", target, strings.Join(values, ", ")))
	}
	return out, nil
}

var engineClause = regexp.MustCompile(`ENGINE = (\w*MergeTree)(\(([^)]*)\))?`)

// replicated turns a table's CREATE into its local replicated form on the cluster.
func replicated(create, database, name, cluster string) (string, error) {
	head := "CREATE TABLE " + database + "." + name + " "
	if !strings.HasPrefix(create, head) {
		return "", fmt.Errorf("table %s: unexpected CREATE %.60q", name, create)
	}
	m := engineClause.FindStringSubmatchIndex(create)
	if m == nil {
		return "", fmt.Errorf("table %s: no MergeTree engine in %.80q", name, create)
	}
	engine := create[m[2]:m[3]]
	args := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", database, name)
	if m[6] >= 0 && create[m[6]:m[7]] != "" {
		args += ", " + create[m[6]:m[7]]
	}
	out := create[:m[0]] + "ENGINE = Replicated" + engine + "(" + args + ")" + create[m[1]:]
	return strings.Replace(out, head, "CREATE TABLE IF NOT EXISTS "+database+"."+name+"_local ON CLUSTER "+cluster+" ", 1), nil
}

// shardingKey keeps a stream on one shard when the table is keyed by stream, else hashes the
// whole sorting key (one row, one shard, all its versions together).
func shardingKey(sortingKey string) string {
	if sortingKey == "stream_id" || strings.HasPrefix(sortingKey, "stream_id,") {
		return "sipHash64(stream_id)"
	}
	return "sipHash64(" + sortingKey + ")"
}
