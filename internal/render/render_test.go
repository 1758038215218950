package render

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sketch"
)

// hostile holds what a stored value can do to a terminal: clear the screen, return the
// cursor and write a fake line, reverse the text that follows (bidi override), open an
// OSC 8 hyperlink, and carry a byte that is not UTF-8. Stream ids, error codes and claims
// come from the database, which may hold rows written before the collector refused such
// characters, or written by anyone with insert rights.
const hostile = "\x1b[2J\r\nverdict: Consistent\u202e\x9b31m\x1b]8;;http://evil\x07\xff"

func testStream(id, code string) *report.Stream {
	at := time.Date(2024, 8, 13, 1, 0, 0, 0, time.UTC)
	return &report.Stream{
		StreamID: id, From: at, To: at.Add(time.Minute),
		Minutes:        []report.Minute{{Start: at, PeakConcurrent: 900, Final: true}},
		PeakConcurrent: 900, PeakConcurrentAt: at.Add(30 * time.Second),
		CumeConnected: sketch.Count{Value: 900, Lo: 900, Hi: 900, Exact: true},
		Errors:        3, ErrorsByCode: map[string]uint64{code: 3},
		FinalTo: at.Add(time.Minute),
	}
}

func testVerdict(s string) claims.Verdict {
	return claims.Verdict{Kind: claims.Overstated, Factor: 2,
		Claim: claims.Claim{ID: "c" + s, StreamID: "s" + s, Claimant: "Someone" + s, Quote: "60 million" + s,
			ClaimedValue: 1800, Metric: claims.MetricConcurrent + s, SourceURL: "https://example.com/" + s}}
}

// checkSafe fails if out holds anything that could act on a terminal but the line breaks and
// tabs of the layout, or has more lines than the same output of benign values: every hostile
// value must have stayed on its own line.
func checkSafe(t *testing.T, out, benign string) {
	t.Helper()
	for i, r := range out {
		if r == utf8.RuneError || (r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r))) {
			t.Errorf("byte %d: %U reaches the terminal in\n%s", i, r, out)
			break
		}
	}
	if got, want := strings.Count(out, "\n"), strings.Count(benign, "\n"); got != want {
		t.Errorf("%d lines, want %d: a value wrote lines of its own\n%s", got, want, out)
	}
}

func TestReportEscapesStoredText(t *testing.T) {
	var benign, out bytes.Buffer
	Report(&benign, testStream("space-1", "network"), []claims.Verdict{testVerdict("")}, true)
	Report(&out, testStream("space-1"+hostile, "network"+hostile), []claims.Verdict{testVerdict(hostile)}, true)
	checkSafe(t, out.String(), benign.String())
	// Ordinary text stays as it is, and the escaped text is still readable.
	if !strings.Contains(out.String(), `space-1\x1b[2J\r\n`) || !strings.Contains(benign.String(), "stream space-1,") {
		t.Errorf("escaped form:\n%s\n%s", out.String(), benign.String())
	}
}

func TestNoDataAndClaimsEscapeStoredText(t *testing.T) {
	var benign, out bytes.Buffer
	NoData(&benign, "space-1", []claims.Verdict{testVerdict("")}, report.ErrNoData)
	NoData(&out, "space-1"+hostile, []claims.Verdict{testVerdict(hostile)}, report.ErrNoData)
	checkSafe(t, out.String(), benign.String())
	benign.Reset()
	out.Reset()
	Claims(&benign, []claims.Claim{testVerdict("").Claim})
	Claims(&out, []claims.Claim{testVerdict(hostile).Claim})
	checkSafe(t, out.String(), benign.String())
	if got, want := strings.Count(out.String(), "\t"), strings.Count(benign.String(), "\t"); got != want {
		t.Errorf("%d columns, want %d", got, want)
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"space-1", "space-1"},
		{"", ""},
		{"émission café 😀", "émission café 😀"},
		{`a"b\c`, `a"b\c`},
		{`"quoted"`, `"\"quoted\""`},
		{"a\x1b[2Jb", `"a\x1b[2Jb"`},
		{"line\r\nfake", `"line\r\nfake"`},
		{"tab\there", `"tab\there"`},
		{"del\x7f", `"del\x7f"`},
		{"c1\u009b", `"c1\u009b"`},
		{"evil\u202eexe.txt", `"evil\u202eexe.txt"`},
		{"zero\u200bwidth", `"zero\u200bwidth"`},
		{"nbsp\u00a0x", `"nbsp\u00a0x"`},
		{"bad\xffutf8", `"bad\xffutf8"`},
	} {
		if got := Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
