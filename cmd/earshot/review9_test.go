package main

import (
	"strings"
	"testing"
)

// TestSimulateFlagsNeedTheirMode: --scale without --scenario was silently ignored (the built-in
// model ran at full --listeners, and --truth even wrote the ignored scale into the truth
// file as if applied); --listeners with --scenario likewise; a negative or NaN --speed sent
// as fast as possible. Each is a usage error before anything is generated or sent.
func TestSimulateFlagsNeedTheirMode(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"simulate", "--token", "x", "--collector", "http://127.0.0.1:1", "--scale", "0.5"}, "--scale"},
		{[]string{"simulate", "--token", "x", "--collector", "http://127.0.0.1:1", "--scenario", "../../scenarios/smoke.yaml", "--listeners", "50"}, "--listeners"},
		{[]string{"simulate", "--token", "x", "--collector", "http://127.0.0.1:1", "--speed", "-60"}, "--speed"},
		{[]string{"simulate", "--token", "x", "--collector", "http://127.0.0.1:1", "--speed", "NaN"}, "--speed"},
	} {
		if code, diag := runArgs(t, tc.args...); code != exitUsage || !strings.Contains(diag, tc.flag) {
			t.Errorf("%v: exit code %d, want %d\n%s", tc.args, code, exitUsage, diag)
		}
	}
}

// TestReplayZeroFlagsAreNotDefaults: replay.Options treats 0 as "the default", so
// `earshot replay --retries 0` (fail fast) silently retried 20 times, and --parallel 0,
// --batch-events 0 and --batch-bytes 0 silently took the defaults too. They are usage errors.
func TestReplayZeroFlagsAreNotDefaults(t *testing.T) {
	for _, flag := range []string{"--retries", "--parallel", "--batch-events", "--batch-bytes"} {
		args := []string{"replay", "--token", "x", "--collector", "http://127.0.0.1:1", flag, "0", "no-such-file.ndjson"}
		if code, diag := runArgs(t, args...); code != exitUsage || !strings.Contains(diag, flag) {
			t.Errorf("%v: exit code %d, want %d\n%s", args, code, exitUsage, diag)
		}
	}
}
