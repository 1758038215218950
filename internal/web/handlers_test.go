package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/render"
	"github.com/earshot/earshot/internal/result"
)

// get serves one request with h and returns the response and its body.
func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestStreamPageEscapesDatabaseValues(t *testing.T) {
	const id = `<b>"id"</b>&'x`
	r := seededResult(id)
	r.Claims[0].Claim.Claimant = `"><img src=x onerror=alert(1)>`
	r.Claims[1].Claim.Quote = `<script>alert(1)</script>`
	r.Totals.ErrorsByCode = map[string]uint64{`<svg onload=alert(1)>`: 2}
	h := New(sourceOf(r), Options{})
	res, body := get(t, h, streamHref(id))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d:\n%s", res.StatusCode, body)
	}
	for _, raw := range []string{"<script>", "<img", "<svg onload", "<b>", `javascript:`} {
		if strings.Contains(body, raw) {
			t.Errorf("the page holds %q unescaped", raw)
		}
	}
	for _, escaped := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;",
		"&#34;&gt;&lt;img src=x onerror=alert(1)&gt;",
		"&lt;svg onload=alert(1)&gt;",
		"&lt;b&gt;&#34;id&#34;&lt;/b&gt;&amp;&#39;x",
	} {
		if !strings.Contains(body, escaped) {
			t.Errorf("the page does not show %q as text", escaped)
		}
	}
	// The claimant is in the chart's SVG too, escaped there as well.
	if !regexp.MustCompile(`<title>&#34;&gt;&lt;img src=x onerror=alert\(1\)&gt; claimed`).MatchString(body) {
		t.Errorf("the claim marker's title does not hold the escaped claimant")
	}
	if !strings.Contains(body, `href="https://example.com/space-transcript"`) {
		t.Errorf("the https source is not linked")
	}
}

func TestUnknownStreamIs404(t *testing.T) {
	h := New(sourceOf(seededResult("known")), Options{})
	for _, path := range []string{"/streams/unknown", "/streams/unknown/claims/trump-60m", "/streams/known/claims/nope"} {
		res, body := get(t, h, path)
		if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s, want an HTML 404", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if !strings.Contains(body, "All streams") {
			t.Errorf("%s: the 404 page does not lead back", path)
		}
	}
	res, body := get(t, h, "/streams/unknown.json")
	var e map[string]string
	if res.StatusCode != http.StatusNotFound || json.Unmarshal([]byte(body), &e) != nil || e["error"] != "unknown_stream" {
		t.Errorf("unknown .json: %d %s, want a JSON 404 unknown_stream", res.StatusCode, body)
	}
}

func TestSourceErrorIsAGeneric500AndLogged(t *testing.T) {
	var logged bytes.Buffer
	h := New(&fakeSource{err: errDatabase}, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	for _, path := range []string{"/", "/streams/x", "/streams/x.json", "/streams/x/claims/c"} {
		logged.Reset()
		res, body := get(t, h, path)
		if res.StatusCode != http.StatusInternalServerError {
			t.Errorf("%s: status %d, want 500", path, res.StatusCode)
		}
		for _, leak := range []string{"10.9.8.7", "secret_db", "minute_stats", "dial tcp"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s: the page shows the database error (%q)", path, leak)
			}
		}
		if !strings.Contains(logged.String(), "secret_db") {
			t.Errorf("%s: the error was not logged: %q", path, logged.String())
		}
	}
}

func TestReaderWhoLeftGetsNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var logged bytes.Buffer
	h := New(&fakeSource{err: context.Canceled}, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/streams/x", nil).WithContext(ctx))
	if rec.Body.Len() != 0 || logged.Len() != 0 {
		t.Errorf("wrote %q and logged %q for a reader who left", rec.Body.String(), logged.String())
	}
}

func TestJSONIsTheResult(t *testing.T) {
	want := seededResult("space-1")
	res, body := get(t, New(sourceOf(want), Options{}), "/streams/space-1.json")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var got result.Result
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("the JSON does not decode to the result it was drawn from")
	}
	// Byte for byte what `earshot report --format json` prints.
	var b bytes.Buffer
	if err := render.JSON(&b, want); err != nil {
		t.Fatal(err)
	}
	if body != b.String() {
		t.Errorf("the JSON is not the report's encoding")
	}
}

// TestCSVIsTheMinuteCurve: /streams/{id}.csv is `earshot report --format csv`, one row a minute.
func TestCSVIsTheMinuteCurve(t *testing.T) {
	want := seededResult("space-1")
	res, body := get(t, New(sourceOf(want), Options{}), "/streams/space-1.csv")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var b bytes.Buffer
	if err := render.CSV(&b, want); err != nil {
		t.Fatal(err)
	}
	if body != b.String() || strings.Count(body, "\n") != len(want.Minutes)+1 {
		t.Errorf("the CSV is not the minute curve of the report:\n%s", body)
	}
}

// TestPageSaysWhatTheCounterCounts: the stream page carries the forensics' summary and fits.
func TestPageSaysWhatTheCounterCounts(t *testing.T) {
	want := seededResult("space-1")
	if want.DisplayedCounter == nil {
		t.Fatal("the fixture has no displayed counter")
	}
	_, body := get(t, New(sourceOf(want), Options{}), "/streams/space-1")
	if !strings.Contains(htmlText(body), want.DisplayedCounter.Summary) || !strings.Contains(body, `id="counter"`) {
		t.Errorf("no counter section with %q", want.DisplayedCounter.Summary)
	}
}

func TestRefreshOnlyUntilFinal(t *testing.T) {
	live, final := seededResult("live"), finalResult("done")
	if live.Status == result.StatusFinal || final.Status != result.StatusFinal {
		t.Fatalf("fixtures: live %s, final %s", live.Status, final.Status)
	}
	h := New(sourceOf(live, final), Options{Refresh: 7 * time.Second})
	refresh := regexp.MustCompile(`<meta http-equiv="refresh" content="(\d+)">`)
	for _, path := range []string{"/streams/live", "/streams/live/claims/trump-60m", "/"} {
		if _, body := get(t, h, path); refresh.FindStringSubmatch(body) == nil || refresh.FindStringSubmatch(body)[1] != "7" {
			t.Errorf("%s: no 7-s refresh while provisional", path)
		} else if !strings.Contains(body, "reloads every 7 s") && path != "/" {
			t.Errorf("%s: the page does not say it is provisional and reloads", path)
		}
	}
	for _, path := range []string{"/streams/done", "/streams/done/claims/trump-60m"} {
		if _, body := get(t, h, path); refresh.MatchString(body) {
			t.Errorf("%s: a final page refreshes", path)
		}
	}
	if _, body := get(t, New(sourceOf(final), Options{}), "/"); refresh.MatchString(body) {
		t.Errorf("the list of final streams refreshes")
	}
	if _, body := get(t, New(sourceOf(live), Options{}), "/streams/live"); !strings.Contains(body, `content="5"`) {
		t.Errorf("the default refresh is not 5 s")
	}
}

func TestVerdictsHavePermalinks(t *testing.T) {
	r := seededResult("space-1")
	h := New(sourceOf(r), Options{})
	_, page := get(t, h, "/streams/space-1")
	for _, v := range r.Claims {
		id := v.Claim.ID
		if !strings.Contains(page, `id="claim-`+id+`"`) || !strings.Contains(page, `href="/streams/space-1/claims/`+id+`"`) {
			t.Errorf("claim %s has no anchor or no permalink on the stream page", id)
		}
		if !strings.Contains(page, htmlText(v.Sentence)) {
			t.Errorf("claim %s: the sentence %q is not on the page", id, v.Sentence)
		}
		res, alone := get(t, h, "/streams/space-1/claims/"+id)
		if res.StatusCode != http.StatusOK || !strings.Contains(alone, htmlText(v.Sentence)) || !strings.Contains(alone, `id="claim-`+id+`"`) {
			t.Errorf("claim %s: the standalone page (%d) does not show its verdict", id, res.StatusCode)
		}
		for _, other := range r.Claims {
			if other.Claim.ID != id && strings.Contains(alone, `id="claim-`+other.Claim.ID+`"`) {
				t.Errorf("claim %s: the standalone page shows claim %s too", id, other.Claim.ID)
			}
		}
	}
	// Only http(s) sources become links.
	if strings.Contains(page, "javascript:alert") {
		t.Errorf("a javascript: source is on the page")
	}
	if n := strings.Count(page, `rel="nofollow noopener noreferrer"`); n != 1 {
		t.Errorf("%d source links, want 1 (the https one)", n)
	}
}

// htmlText is s as html/template writes it in text.
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestStreamPageShowsTotalsWithDefinitions(t *testing.T) {
	r := seededResult("space-1")
	_, page := get(t, New(sourceOf(r), Options{}), "/streams/space-1")
	for _, key := range []string{"displayed_max", "peak_concurrent", "peak_concurrent_hearing", "cume_connected", "cume_hearing",
		"cume_qualified", "aqh_persons", "tsl_seconds", "joins", "start_failures", "errors", "authenticated", "played_trimmed_ms", "delivery"} {
		row := regexp.MustCompile(`<tr id="total-` + key + `">.*</tr>`).FindString(page)
		if row == "" || !strings.Contains(row, htmlText(r.Definitions[key])) {
			t.Errorf("total %s is missing or has no definition: %q", key, row)
		}
	}
	c := r.Totals.CumeConnected
	if !strings.Contains(page, "95 % "+result.Int(c.Lo)+" – "+result.Int(c.Hi)) {
		t.Errorf("the cume's interval is not shown")
	}
}

func TestLinksRoundTripAnyStreamID(t *testing.T) {
	ids := []string{"a.json", "a/b", "x y?z#w", "ünï", "..", "plain"}
	var rs []*result.Result
	for _, id := range ids {
		rs = append(rs, finalResult(id))
	}
	h := New(sourceOf(rs...), Options{})
	_, index := get(t, h, "/")
	for _, id := range ids {
		href := streamHref(id)
		if !strings.Contains(index, `href="`+href+`"`) {
			t.Errorf("%q: the list does not link %s", id, href)
			continue
		}
		res, page := get(t, h, href)
		if res.StatusCode != http.StatusOK || !strings.Contains(page, "<h1>Stream <span class=\"id\">"+htmlText(id)+"</span>") {
			t.Errorf("%q: %s gives %d, not its page", id, href, res.StatusCode)
		}
		res, body := get(t, h, href+".json")
		var got result.Result
		if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.StreamID != id {
			t.Errorf("%q: %s.json gives %d, stream %q", id, href, res.StatusCode, got.StreamID)
		}
		res, _ = get(t, h, href+"/claims/trump-60m")
		if res.StatusCode != http.StatusOK {
			t.Errorf("%q: the claim page gives %d", id, res.StatusCode)
		}
	}
}

func TestHeadersOnEveryAnswer(t *testing.T) {
	h := New(sourceOf(seededResult("s")), Options{})
	for _, path := range []string{"/", "/streams/s", "/streams/s.json", "/streams/nope", "/assets/style.css", "/healthz", "/no/such/page"} {
		res, _ := get(t, h, path)
		for k, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
	res, css := get(t, h, "/assets/style.css")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, ".series-connected") {
		t.Errorf("stylesheet: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res, body := get(t, h, "/healthz")
	if res.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz: %d %q", res.StatusCode, body)
	}
}

func TestPageFetchesNothingElsewhere(t *testing.T) {
	_, page := get(t, New(sourceOf(seededResult("s")), Options{}), "/streams/s")
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		u := m[1]
		if strings.HasPrefix(u, "/") || strings.HasPrefix(u, "#") || u == "https://example.com/space-transcript" {
			continue
		}
		t.Errorf("the page refers to %q", u)
	}
	if strings.Contains(page, "<script") {
		t.Errorf("the page has a script")
	}
}

func TestIndexListsStreams(t *testing.T) {
	h := New(sourceOf(seededResult("live"), finalResult("done")), Options{Title: "Audience <check>"})
	res, body := get(t, h, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, want := range []string{`href="/streams/live"`, `href="/streams/done"`, "2024-08-13 00:30", "Audience &lt;check&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	if _, body := get(t, New(&fakeSource{}, Options{}), "/"); !strings.Contains(body, "No stream has been measured yet.") {
		t.Errorf("an empty list says nothing")
	}
}

func TestStreamWithoutDataShowsItsClaims(t *testing.T) {
	r := seededResult("s")
	empty := &result.Result{SchemaVersion: result.SchemaVersion, StreamID: "s", Status: result.StatusNoData,
		Minutes: []result.Minute{}, Claims: r.Claims[:1], Definitions: r.Definitions}
	res, page := get(t, New(sourceOf(empty), Options{}), "/streams/s")
	if res.StatusCode != http.StatusOK || strings.Contains(page, "<svg") || !strings.Contains(page, "No measurements for this stream yet.") ||
		!strings.Contains(page, `id="claim-trump-60m"`) {
		t.Errorf("a stream without data: %d\n%s", res.StatusCode, page)
	}
}
