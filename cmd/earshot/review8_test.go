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

// TestRangeMustBeMinuteAligned: docs/report.md says --from/--to take a minute-aligned range.
// A --from of 01:00:30 silently dropped the minute 01:00, a --to of 01:05:30 silently added
// the whole minute 01:05 (the result then ends at 01:06), and --from after --to reported "no
// data" for a stream that has some.
func TestRangeMustBeMinuteAligned(t *testing.T) {
	for _, rng := range [][]string{
		{"--from", "2024-08-13T01:00:30Z"},
		{"--to", "2024-08-13T01:05:30Z"},
		{"--from", "2024-08-13T01:00:00.5Z"},
		{"--from", "2024-08-13T02:00:00Z", "--to", "2024-08-13T01:00:00Z"},
		{"--from", "2024-08-13T01:00:00Z", "--to", "2024-08-13T01:00:00Z"},
	} {
		args := append([]string{"report", "--stream", "s"}, rng...)
		if code, diag := runArgs(t, args...); code != exitUsage {
			t.Errorf("%v: exit code %d, want %d\n%s", args, code, exitUsage, diag)
		}
	}
}
