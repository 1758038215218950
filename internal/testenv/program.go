package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// Program returns the path of the first of names found on PATH, or ends the test the way a
// missing server does: skipped on a laptop without it, failed when servers are required
// (CI=true or EARSHOT_REQUIRE_SERVERS=1), since `make deps` installs every program the tests use.
func Program(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	what := strings.Join(names, " or ")
	if Required() {
		t.Fatalf("%s is required (CI=true or EARSHOT_REQUIRE_SERVERS=1) but not on PATH; run `make deps`", what)
	}
	t.Skipf("%s not on PATH; run `make deps`", what)
	return ""
}
