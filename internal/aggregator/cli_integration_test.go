package aggregator_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/testenv"
)

// testCLI runs the earshot binary, as a journalist would, against the database the pipeline
// just filled: check (table, JSON, --save twice), report in every format, claims import and
// list, audit, and the exit codes.
func testCLI(t *testing.T, e *env, st *sim.Stream, r *report.Stream) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "earshot")
	build := exec.Command("go", "build", "-o", bin, "./cmd/earshot")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	earshot := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = testenv.RepoRoot()
		cmd.Env = append(os.Environ(), "EARSHOT_CLICKHOUSE_ADDR="+e.ch.Addr, "EARSHOT_CLICKHOUSE_DATABASE="+e.ch.Database)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		if cmd.ProcessState.ExitCode() != 0 {
			t.Logf("earshot %s: %s", strings.Join(args, " "), errOut.String())
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}
	stream := st.Scenario.StreamID
	var peak report.Minute
	for _, m := range r.Minutes {
		if m.PeakConcurrent > peak.PeakConcurrent {
			peak = m
		}
	}
	at := peak.Start.Add(20 * time.Second).Format(time.RFC3339)
	claimed := "1000000"
	args := []string{"check", "--stream", stream, "--claimed", claimed, "--metric", "concurrent", "--at", at}

	out, code := earshot(args...)
	first, _, _ := strings.Cut(out, "\n")
	wantStart := "At " + peak.Start.Format("15:04 UTC") + ", " + result.Int(float64(peak.PeakConcurrent)) + " listeners (exact) were connected"
	if code != 0 || !strings.HasPrefix(first, wantStart) || !strings.Contains(first, "the claim of 1 000 000 is overstated") ||
		!strings.Contains(out, "often confused with it") {
		t.Errorf("check (exit %d):\n%s\nwant the first line to start %q", code, out, wantStart)
	}
	out, code = earshot(append(args, "--format", "json")...)
	var v result.Verdict
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Verdict != claims.Overstated || v.Sentence != first {
		t.Errorf("check --format json (exit %d, %v): %s", code, err, out)
	}
	for range 2 {
		if out, code = earshot(append(args, "--save", "--claimant", "a CLI host")...); code != 0 || !strings.Contains(out, "saved as claim c-") {
			t.Errorf("check --save (exit %d): %s", code, out)
		}
	}
	if out, code = earshot("claims", "list", "--stream", stream); code != 0 || strings.Count(out, "a CLI host") != 1 {
		t.Errorf("claims list after saving twice (exit %d):\n%s", code, out)
	}
	// The same four claims as JSON, CSV and NDJSON: kept once each, by claim id.
	for _, f := range []string{"x-space-2024-08-12-sim.json", "x-space-2024-08-12-sim.csv", "x-space-2024-08-12-sim.ndjson"} {
		if out, code = earshot("claims", "import", "testdata/claims/"+f); code != 0 || !strings.Contains(out, "stored 4 claims") {
			t.Errorf("claims import %s (exit %d): %s", f, code, out)
		}
	}
	if out, code = earshot("claims", "list", "--stream", "x-space-2024-08-12-sim"); code != 0 || strings.Count(out, "\n") != 4 {
		t.Errorf("claims list after importing the same claims three times (exit %d):\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("claim_id,stream_id,claimed_value,metric\nok,s,5,cume\nbad,s,60M,cume\n"), 0o644)
	if out, code = earshot("claims", "import", bad); code != 1 {
		t.Errorf("claims import of a bad file: exit %d: %s", code, out)
	}

	out, code = earshot("report", "--stream", stream, "--format", "json")
	var res result.Result
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || len(res.Minutes) != len(r.Minutes) ||
		res.Totals.PeakConcurrent.Value != r.PeakConcurrent || len(res.Claims) < 1 || res.Status != result.StatusFinal {
		t.Errorf("report --format json (exit %d, %v)", code, err)
	}
	out, code = earshot("report", "--stream", stream, "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != len(r.Minutes)+1 || recs[0][1] != "minute" {
		t.Errorf("report --format csv (exit %d, %v): %d records", code, err, len(recs))
	}
	for _, format := range []string{"table", "markdown"} {
		if out, code = earshot("report", "--stream", stream, "--format", format, "--minutes"); code != 0 ||
			!strings.Contains(out, result.Int(float64(r.PeakConcurrent))) || !strings.Contains(out, "overstated") {
			t.Errorf("report --format %s (exit %d):\n%s", format, code, out)
		}
	}
	if out, code = earshot("audit", "--stream", stream); code != 0 || !strings.Contains(out, "ok: the exact count is inside") {
		t.Errorf("audit (exit %d): %s", code, out)
	}
	testPage(t, bin, e, stream, r)
	for _, bad := range [][]string{{"check", "--stream", stream}, {"report"}, {"report", "--stream", stream, "--format", "xml"}, {"nonsense"}} {
		if _, code := earshot(bad...); code != 2 {
			t.Errorf("earshot %v: exit code %d, want 2", bad, code)
		}
	}
}

// testPage starts `earshot serve` on the database the pipeline filled and reads the stream's
// page in Debian's chromium: a chart point per minute, the verdict sentences, the quote stored
// with markup shown as text. The screenshot goes to $EARSHOT_SCREENSHOTS (make screenshots).
func testPage(t *testing.T, bin string, e *env, stream string, r *report.Stream) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "EARSHOT_CLICKHOUSE_ADDR="+e.ch.Addr, "EARSHOT_CLICKHOUSE_DATABASE="+e.ch.Database)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("earshot serve did not stop cleanly: %v\n%s", err, stderr.String())
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "earshot serve: ")
	if err != nil || !ok {
		t.Fatalf("earshot serve printed %q (%v)\n%s", line, err, stderr.String())
	}
	base, _ = strings.CutSuffix(base, " (Ctrl-C stops)")
	page := strings.TrimSuffix(base, "/") + "/streams/" + stream
	res, err := result.Load(context.Background(), e.conn, stream, time.Time{}, time.Time{}, result.Tolerance)
	if err != nil {
		t.Fatal(err)
	}

	dom := testenv.Chromium(t, "--dump-dom", page)
	g := regexp.MustCompile(`(?s)<g class="series series-connected" data-series="connected">(.*?)</g>`).FindStringSubmatch(dom)
	if g == nil || strings.Count(g[1], "<circle") != len(r.Minutes) {
		t.Errorf("the chart's connected series does not have a point for each of the %d minutes", len(r.Minutes))
	}
	if len(res.Claims) == 0 {
		t.Fatal("no claims stored before the page test")
	}
	for _, v := range res.Claims {
		if !strings.Contains(dom, `id="claim-`+v.Claim.ID+`"`) || !strings.Contains(dom, strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(v.Sentence)) {
			t.Errorf("claim %s: no anchor or no sentence %q on the page", v.Claim.ID, v.Sentence)
		}
	}
	if strings.Contains(dom, "<b>60×</b>") || !strings.Contains(dom, "&lt;b&gt;60×&lt;/b&gt;") {
		t.Error("the quote stored with markup is not shown as text")
	}
	dir := os.Getenv("EARSHOT_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "pipeline-stream.png")
	testenv.Chromium(t, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", page)
	if png, err := os.ReadFile(shot); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot %s: %v", shot, err)
	} else {
		t.Logf("screenshot: %s", shot)
	}
}
