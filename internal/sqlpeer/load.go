package sqlpeer

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

var (
	tableSQL = mustSQL("table.sql")
	loadSQL  = mustSQL("load.sql")
)

// CreateTable creates the raw events table (sql/table.sql).
func CreateTable(ctx context.Context, conn driver.Conn, table string) error {
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"table": table}))
	if err := conn.Exec(ctx, tableSQL); err != nil {
		return fmt.Errorf("sqlpeer: create %s: %w", table, err)
	}
	return nil
}

// LoadNDJSON inserts the NDJSON file of client events at path into table (sql/load.sql). The
// engine reads the file itself (file() table function), so the path must be absolute and on
// the engine's machine: true of the development engine (chDB in the adapter's process); a
// ClickHouse server would take the file from clickhouse-client instead (INSERT ... FORMAT
// JSONEachRow), see load.sql.
func LoadNDJSON(ctx context.Context, conn driver.Conn, table, path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("sqlpeer: %s: the engine reads the file itself, give an absolute path", path)
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"table": table, "path": path}))
	if err := conn.Exec(ctx, loadSQL); err != nil {
		return fmt.Errorf("sqlpeer: load %s into %s: %w", path, table, err)
	}
	return nil
}
