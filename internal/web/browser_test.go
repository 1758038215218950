//go:build unix

package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/earshot/earshot/internal/testenv"
)

// TestBrowserRendersTheStreamPage loads a stream's page in a real browser (Debian's chromium,
// headless) and reads back the DOM it built: what a reader gets, after the browser's own
// parsing, with no JavaScript of ours involved. It also leaves screenshots in
// $EARSHOT_SCREENSHOTS (or the test's temporary directory) for a person to look at.
func TestBrowserRendersTheStreamPage(t *testing.T) {
	testenv.Program(t, "chromium")
	const id = "x-space-2024-08-12"
	r := seededResult(id)
	var (
		mu        sync.Mutex
		requested []string
	)
	h := New(sourceOf(r), Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		requested = append(requested, req.URL.Path)
		mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	defer srv.Close()
	page := srv.URL + streamHref(id)

	dom := testenv.Chromium(t, "--dump-dom", page)

	if got := regexp.MustCompile(`<title>([^<]*)</title>`).FindStringSubmatch(dom); got == nil || got[1] != id+" — earshot" {
		t.Errorf("document title %q, want %q (a script from the database would have set 'pwned')", got, id+" — earshot")
	}
	if strings.Contains(dom, "<script") {
		t.Errorf("the DOM holds a script element")
	}
	if !strings.Contains(dom, `<blockquote class="quote">&lt;script&gt;document.title='pwned'&lt;/script&gt;</blockquote>`) {
		t.Errorf("the hostile quote is not shown as text")
	}

	// The chart: a point per minute in each measured series, on one line, and a marker per claim.
	for _, key := range []string{"connected", "hearing", "displayed_max"} {
		g := regexp.MustCompile(`(?s)<g class="series series-` + key + `" data-series="` + key + `">(.*?)</g>`).FindStringSubmatch(dom)
		if g == nil {
			t.Errorf("no %s series in the chart", key)
			continue
		}
		circles := strings.Count(g[1], "<circle")
		line := regexp.MustCompile(`<polyline class="line" points="([^"]*)"`).FindAllStringSubmatch(g[1], -1)
		if circles != len(r.Minutes) || len(line) != 1 || len(strings.Fields(line[0][1])) != len(r.Minutes) {
			t.Errorf("%s: %d points and %d lines, want %d points on one line", key, circles, len(line), len(r.Minutes))
		}
	}
	if n := strings.Count(dom, `<a href="#claim-`); n != len(r.Claims) {
		t.Errorf("%d claim markers, want %d", n, len(r.Claims))
	}
	if !regexp.MustCompile(`<g class="provisional">\s*<rect [^>]*fill="url\(#hatch\)"`).MatchString(dom) {
		t.Errorf("the provisional minutes are not shaded")
	}

	// The verdicts, as sentences, each at its anchor; the one at a time without data says so.
	for _, v := range r.Claims {
		if !strings.Contains(dom, `id="claim-`+v.Claim.ID+`"`) || !strings.Contains(dom, domText(v.Sentence)) {
			t.Errorf("claim %s: no anchor or no sentence %q", v.Claim.ID, v.Sentence)
		}
	}
	if !strings.Contains(dom, `<article class="verdict verdict-not-measurable" id="claim-after-the-end">`) ||
		!strings.Contains(dom, "cannot be checked: no measurement in the minute the claim was made") {
		t.Errorf("the claim made after the last minute is not shown as not measurable")
	}
	if !strings.Contains(dom, `<meta http-equiv="refresh" content="5">`) || !strings.Contains(dom, "This page reloads every 5 s.") {
		t.Errorf("the provisional page neither refreshes nor says so")
	}

	dir := os.Getenv("EARSHOT_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, url := range map[string]string{"stream.png": page, "claim.png": page + "/claims/trump-60m"} {
		shot := filepath.Join(dir, name)
		testenv.Chromium(t, "--screenshot="+shot, "--window-size=1280,1600", "--hide-scrollbars", url)
		png, err := os.ReadFile(shot)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10_000 {
			t.Errorf("screenshot %s: %d bytes, %v", shot, len(png), err)
			continue
		}
		t.Logf("screenshot: %s", shot)
	}

	// The browser took the stylesheet from the page's own server, and nothing else.
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(requested, "/assets/style.css") {
		t.Errorf("the browser did not load the stylesheet; it asked for %v", requested)
	}
}

// domText is s as a browser serialises text: only &, < and > are escaped.
func domText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;").Replace(s)
}
