#!/usr/bin/env bash
# Prints one closing line for a `go test -v` log: "tests: N passed, N failed, N skipped".
log=$1
pass=$(grep -cE '^\s*--- PASS' "$log" || true)
fail=$(grep -cE '^\s*--- FAIL' "$log" || true)
skip=$(grep -cE '^\s*--- SKIP' "$log" || true)
echo "tests: $pass passed, $fail failed, $skip skipped"
