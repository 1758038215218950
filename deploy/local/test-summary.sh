#!/usr/bin/env bash
# Prints one closing line for a `go test -v` log: "tests: N passed, N failed, N skipped", and
# before it the last lines each failing test printed. `make test` shows only the log's summary
# lines as it runs; a failure's whole message (a script's output, a multi-line diff) is in the
# log, and CI keeps only what is printed.
log=$1
for name in $(grep -oE '^\s*--- FAIL: \S+' "$log" | awk '{print $3}' | sort -u); do
  echo "=== output of failing test $name (last 60 lines):"
  awk -v n="$name" '
    $0 ~ "^=== (RUN|CONT|PAUSE|NAME) +" n "$" { on = 1 }
    on { print }
    $0 ~ "^\\s*--- (FAIL|PASS): " n " " { on = 0 }
  ' "$log" | grep -v '^=== ' | tail -n 60
done
pass=$(grep -cE '^\s*--- PASS' "$log" || true)
fail=$(grep -cE '^\s*--- FAIL' "$log" || true)
skip=$(grep -cE '^\s*--- SKIP' "$log" || true)
echo "tests: $pass passed, $fail failed, $skip skipped"
