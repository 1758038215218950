package schema

import (
	"context"
	_ "embed"
	"fmt"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed roles/roles.sql
var rolesSQL string

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Roles returns the statements that create earshot's roles for database (roles/roles.sql).
func Roles(database string) ([]string, error) {
	if !identifier.MatchString(database) {
		return nil, fmt.Errorf("database name %q: roles are granted on plain identifiers only", database)
	}
	var out []string
	for _, st := range split(rolesSQL) {
		out = append(out, strings.ReplaceAll(st, "{db}", database))
	}
	return out, nil
}

// ApplyRoles creates the roles on a real server. Every statement is idempotent.
func ApplyRoles(ctx context.Context, conn driver.Conn, database string) error {
	sts, err := Roles(database)
	if err != nil {
		return err
	}
	for _, st := range sts {
		if err := conn.Exec(ctx, st); err != nil {
			return fmt.Errorf("cannot apply %q: %w", st, err)
		}
	}
	return nil
}
