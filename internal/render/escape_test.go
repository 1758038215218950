package render

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/earshot/earshot/internal/result"
)

// hostile holds what a stored value can do to a terminal: clear the screen, return the
// cursor and write a fake line, reverse the text that follows (bidi override), open an
// OSC 8 hyperlink, and carry a byte that is not UTF-8. Stream ids, error codes and claims
// come from the database, which may hold rows written before the collector refused such
// characters, or written by anyone with insert rights.
const hostile = "\x1b[2J\r\nverdict: Consistent\u202e\x9b31m\x1b]8;;http://evil\x07\xff"

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

func TestTableAndMarkdownEscapeStoredText(t *testing.T) {
	benignRes, hostileRes := fixture("space-1", "network", ""), fixture("space-1"+hostile, "network"+hostile, hostile)
	for _, format := range []string{"table", "markdown"} {
		var benign, out bytes.Buffer
		Write(&benign, format, benignRes, true)
		Write(&out, format, hostileRes, true)
		checkSafe(t, out.String(), benign.String())
	}
	var out bytes.Buffer
	Table(&out, hostileRes, false)
	// Ordinary text stays as it is, and the escaped text is still readable.
	if !strings.Contains(out.String(), `space-1\x1b[2J\r\n`) {
		t.Errorf("escaped form:\n%s", out.String())
	}
}

func TestCheckAndClaimsEscapeStoredText(t *testing.T) {
	benignRes, hostileRes := fixture("space-1", "network", ""), fixture("space-1"+hostile, "network"+hostile, hostile)
	var benign, out bytes.Buffer
	Check(&benign, benignRes, benignRes.Claims[0])
	Check(&out, hostileRes, hostileRes.Claims[0])
	checkSafe(t, out.String(), benign.String())
	benign.Reset()
	out.Reset()
	Claims(&benign, []result.Claim{benignRes.Claims[0].Claim})
	Claims(&out, []result.Claim{hostileRes.Claims[0].Claim})
	checkSafe(t, out.String(), benign.String())
	if got, want := strings.Count(out.String(), "\t"), strings.Count(benign.String(), "\t"); got != want {
		t.Errorf("%d columns, want %d", got, want)
	}
}

// TestMarkdownKeepsQuotesAsText: a quote cannot open an HTML tag, a link or a table cell when
// the Markdown is pasted into a CMS.
func TestMarkdownKeepsQuotesAsText(t *testing.T) {
	var out bytes.Buffer
	Markdown(&out, fixture("space-1", "net|work", ""), false)
	md := out.String()
	if strings.Contains(md, "<script>") {
		t.Errorf("a raw <script> tag:\n%s", md)
	}
	if !strings.Contains(md, `&lt;script&gt;document.title='pwned'&lt;/script&gt;`) && !strings.Contains(md, `&lt;script\>`) {
		t.Errorf("the quote is not shown as text:\n%s", md)
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| client errors") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != 5 {
			t.Errorf("an error code added a cell: %s", line)
		}
	}
	if !strings.Contains(md, `Anon \| \*bold\* \[x\]\(y\)`) {
		t.Errorf("claimant not escaped:\n%s", md)
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
