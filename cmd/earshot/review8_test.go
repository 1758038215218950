package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// noDB points every command at a port where no ClickHouse listens: a command line that is
// wrong must be refused (exit code 2) before any connection is tried.
var noDB = []string{"--set", "clickhouse.addr=127.0.0.1:1"}

func runArgs(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, diag bytes.Buffer
	code := run(context.Background(), append(args, noDB...), &out, &diag)
	return code, diag.String()
}

// TestToleranceIsValidated: --tolerance NaN made every claim consistent and the JSON fail to
// encode; a negative one made claims below the measured figure "overstated" with a factor
// under 1 (which the schema forbids). It is refused as a usage error.
func TestToleranceIsValidated(t *testing.T) {
	for _, tol := range []string{"NaN", "-0.5", "+Inf", "1"} {
		for _, args := range [][]string{
			{"report", "--stream", "s", "--tolerance", tol},
			{"check", "--stream", "s", "--claimed", "5", "--metric", "cume", "--tolerance", tol},
			{"serve", "--listen", "127.0.0.1:0", "--tolerance", tol},
		} {
			if code, diag := runArgs(t, args...); code != exitUsage || !strings.Contains(diag, "--tolerance") {
				t.Errorf("%v: exit code %d, want %d\n%s", args, code, exitUsage, diag)
			}
		}
	}
}

// TestFollowNeedsAPositiveInterval: `report --follow --every 0` (or a negative interval)
// re-ran the report against ClickHouse in a tight loop until the stream was final.
func TestFollowNeedsAPositiveInterval(t *testing.T) {
	for _, every := range []string{"0", "-5s"} {
		args := []string{"report", "--stream", "s", "--follow", "--every", every}
		if code, diag := runArgs(t, args...); code != exitUsage || !strings.Contains(diag, "--every") {
			t.Errorf("%v: exit code %d, want %d\n%s", args, code, exitUsage, diag)
		}
	}
}
