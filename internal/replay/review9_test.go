package replay

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayRerunWithoutFinalNewline: a log whose last line has no line end (many exporters
// write none) is replayed, then run again as documented ("running it again sends nothing").
// The state's offset is then the end of the file, which skipTo refused as "not the start of a
// line", so a finished replay — or one whose close failed and must be re-run to close — could
// not be resumed at all.
func TestReplayRerunWithoutFinalNewline(t *testing.T) {
	lines, _ := logLines(30, "s1")
	for _, gz := range []bool{false, true} {
		f := newFake(t)
		dir := t.TempDir()
		path := writeLog(t, dir, "log.ndjson", lines, gz)
		if !gz {
			data := []byte(strings.Join(lines, "\n")) // no final newline
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			path = filepath.Join(dir, "log2.ndjson.gz")
			writeGzipNoNewline(t, path, strings.Join(lines, "\n"))
		}
		if _, err := Run(context.Background(), path, testOptions(f)); err != nil {
			t.Fatalf("gz %v: first run: %v", gz, err)
		}
		sum, err := Run(context.Background(), path, testOptions(f))
		if err != nil {
			t.Fatalf("gz %v: second run of a finished replay: %v", gz, err)
		}
		if sum.Lines != 30 || sum.Accepted != 30 {
			t.Fatalf("gz %v: second run summary %+v", gz, sum.Progress)
		}
	}
}

func writeGzipNoNewline(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
