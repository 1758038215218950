package claims

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var demoDir = filepath.Join("..", "..", "testdata", "claims")

// demoClaims are the claims of testdata/claims/x-space-2024-08-12-sim.*, written out by hand.
func demoClaims() []Claim {
	const s = "x-space-2024-08-12-sim"
	const campaign = "Trump campaign, afterwards, scaled 1:600 for the simulation"
	return []Claim{
		{ID: "musk-displayed-1.2m", StreamID: s, Claimant: "Elon Musk, the day after (displayed count ~1.2M; Reuters: up to 1.3M at times), scaled 1:600 for the simulation",
			Quote: "1.2 million listeners", ClaimedValue: 2000, Metric: MetricDisplayed},
		{ID: "trump-60m-listening", StreamID: s, Claimant: "Donald Trump, on air (as summarised by dpa), scaled 1:600 for the simulation",
			Quote: "60 million people are listening", ClaimedValue: 100000, Metric: MetricConcurrent, SaidAt: time.Date(2024, 8, 13, 1, 0, 0, 0, time.UTC)},
		{ID: "campaign-1.5m-concurrent", StreamID: s, Claimant: campaign, Quote: "about 1.5 million concurrent listeners", ClaimedValue: 2500, Metric: MetricConcurrent},
		{ID: "campaign-25m-listened", StreamID: s, Claimant: campaign, Quote: "25 million listened start to finish", ClaimedValue: 41667, Metric: MetricCume},
	}
}

func sameClaims(t *testing.T, what string, got, want []Claim) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d claims, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.SaidAt.Equal(w.SaidAt) {
			t.Errorf("%s: claim %d said_at %v, want %v", what, i, g.SaidAt, w.SaidAt)
		}
		g.SaidAt, w.SaidAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: claim %d\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

func TestLoadDemoFiles(t *testing.T) {
	for _, ext := range []string{"json", "csv", "ndjson"} {
		path := filepath.Join(demoDir, "x-space-2024-08-12-sim."+ext)
		cs, err := LoadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		sameClaims(t, ext, cs, demoClaims())
		// The same content, named "-" (stdin): the format is sniffed.
		data, _ := os.ReadFile(path)
		cs, err = Parse("-", strings.NewReader(string(data)))
		if err != nil {
			t.Fatalf("%s as stdin: %v", ext, err)
		}
		sameClaims(t, ext+" as stdin", cs, demoClaims())
	}
	if _, err := LoadFile(filepath.Join(demoDir, "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestParseGood(t *testing.T) {
	said := time.Date(2024, 8, 13, 1, 0, 0, 0, time.UTC)
	a := Claim{ID: "a", StreamID: "s", ClaimedValue: 60000000, Metric: MetricConcurrent, SaidAt: said}
	b := Claim{ID: "b", StreamID: "s", Claimant: "Ann", Quote: `say "hi", twice`, ClaimedValue: 1.5, Metric: MetricCume,
		SourceURL: "https://example.com/a?b=c"}
	cases := []struct {
		name, body string
		want       []Claim
	}{
		{"x.csv", "claim_id,stream_id,claimed_value,metric,said_at\na,s,60000000,concurrent,2024-08-13T01:00:00Z\n", []Claim{a}},
		{"columns in another order, optional ones left out, CRLF, a BOM.csv",
			"\uFEFFmetric,said_at,claimed_value,stream_id,claim_id,source_url,quote,claimant\r\n" +
				"concurrent,2024-08-13T03:00:00+02:00,60000000,s,a,,,\r\n" +
				"cume,,1.5,s,b,https://example.com/a?b=c,\"say \"\"hi\"\", twice\",Ann\r\n", []Claim{a, b}},
		{"written by hand, blank and empty rows.csv",
			"claim_id, stream_id, claimed_value, metric, said_at\n\na, s, 60000000, concurrent, 2024-08-13T01:00:00Z\n,,,,\n", []Claim{a}},
		{"header only.csv", "claim_id,stream_id,claimed_value,metric\n", nil},
		{"x.json", `[{"claim_id":"a","stream_id":"s","claimed_value":6e7,"metric":"concurrent","said_at":"2024-08-13T01:00:00.000Z"},
			{"claim_id":"b","stream_id":"s","claimant":"Ann","quote":"say \"hi\", twice","claimed_value":1.5,"metric":"cume",
			 "said_at":null,"source_url":"https://example.com/a?b=c"}]`, []Claim{a, b}},
		{"empty array.json", " [ ] ", nil},
		{"x.ndjson", "{\"claim_id\":\"a\",\"stream_id\":\"s\",\"claimed_value\":60000000,\"metric\":\"concurrent\",\"said_at\":\"2024-08-13T01:00:00Z\"}\r\n\r\n" +
			"{\"claim_id\":\"b\",\"stream_id\":\"s\",\"claimant\":\"Ann\",\"quote\":\"say \\\"hi\\\", twice\",\"claimed_value\":1.5,\"metric\":\"cume\",\"said_at\":\"\",\"source_url\":\"https://example.com/a?b=c\"}", []Claim{a, b}},
		{"ndjson in a .json file.json", "{\"claim_id\":\"a\",\"stream_id\":\"s\",\"claimed_value\":60000000,\"metric\":\"concurrent\",\"said_at\":\"2024-08-13T01:00:00Z\"}\n", []Claim{a}},
		{"-", "  [{\"claim_id\":\"a\",\"stream_id\":\"s\",\"claimed_value\":60000000,\"metric\":\"concurrent\",\"said_at\":\"2024-08-13T01:00:00Z\"}]", []Claim{a}},
		{"claims.txt", "claim_id,stream_id,claimed_value,metric,said_at\na,s,60000000,concurrent,2024-08-13T01:00:00Z\n", []Claim{a}},
		{"UPPER.CSV", "claim_id,stream_id,claimed_value,metric,said_at\na,s,60000000,concurrent,2024-08-13T01:00:00Z\n", []Claim{a}},
	}
	for _, tc := range cases {
		cs, err := Parse(tc.name, strings.NewReader(tc.body))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		sameClaims(t, tc.name, cs, tc.want)
	}
}

// want is one expected problem: its line, field and part of its message.
type want struct {
	line  int
	field string
	msg   string
}

// TestParseErrors: the line numbers below were counted by hand in the fixtures; every problem of
// a file is reported (up to MaxErrors), and no claim is returned.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, body string
		want       []want
	}{
		{"missing column.csv", "claim_id,stream_id,metric\na,s,cume\n",
			[]want{{1, "", "missing column claimed_value"}}},
		{"two missing columns.csv", "\n\nclaim_id,quote\n", // blank lines first: the header is on line 3
			[]want{{3, "", "missing column stream_id"}, {3, "", "missing column claimed_value"}, {3, "", "missing column metric"}}},
		{"unknown column.csv", "claim_id,stream_id,claimed_value,metric,views\na,s,1,cume,3\n",
			[]want{{1, "", `unknown column "views"`}}},
		{"trailing comma in the header.csv", "claim_id,stream_id,claimed_value,metric,\na,s,1,cume,\n",
			[]want{{1, "", "column 5 has no name"}}},
		{"column twice.csv", "claim_id,stream_id,claimed_value,metric,claim_id\n",
			[]want{{1, "", "column claim_id appears twice"}}},
		{"no header.csv", "a,s,1,cume\n", []want{{1, "", "the first row must be a header"}}},
		{"empty.csv", "", []want{{0, "", "empty file"}}},
		{"blank.json", " \n\t\n", []want{{0, "", "empty file"}}},
		{"rows.csv", `claim_id,stream_id,claimed_value,metric,said_at,quote
a,s,60M,concurrent,,fine
b,s,"60,000,000",concurrent,,fine
c,s,1,views,,fine
d,s,1,cume,13/08/2024,fine
a,s,1,cume,,the id of line 2 again
e,s,1,cume,,"two
lines"
f,s,-5,cume,,x
g,s,,cume,,x
h,s,1e6,cume,,x
i,s,1,cume
j,s,1.5,displayed,2024-08-13,x
k,s,1,cume,,` + strings.Repeat("q", 2001) + `
l,s,1,cume,,"a` + "\x1b" + `[2Jb"
`, []want{
			{2, "claimed_value", `"60M" is not a number`},
			{3, "claimed_value", `"60,000,000" is not a number: write it without thousands separators, as 60000000`},
			{4, "metric", `"views" is not one of concurrent, cume, displayed`},
			{5, "said_at", `"13/08/2024" is not an RFC 3339 time`},
			{6, "claim_id", `"a" is already the id of the claim on line 2`},
			{7, "quote", "control character U+000A at character 4"}, // the quoted field starts on line 7
			{9, "claimed_value", `"-5" is negative`},
			{10, "claimed_value", "missing"},
			{11, "claimed_value", `"1e6" is not a number`},
			{12, "", "4 fields, the header has 6"},
			{13, "said_at", `"2024-08-13" is not an RFC 3339 time`},
			{14, "quote", "2001 characters long, at most 2000"},
			{15, "quote", "control character U+001B at character 2"},
		}},
		{"a field after a multi-line one.csv", "claim_id,quote,claimed_value,metric,stream_id\r\na,\"first\r\nsecond\",60M,cume,s\r\n",
			[]want{{2, "quote", "control character U+000A at character 6"}, {3, "claimed_value", `"60M"`}}},
		{"bare quote.csv", "claim_id,stream_id,claimed_value,metric\na,s,1,cume\nb,s\"x,1,cume\nc,s,x,cume\n",
			[]want{{3, "", `malformed CSV at character 4: bare " in non-quoted-field`}}}, // reading stops there
		{"not utf-8.csv", "claim_id,stream_id,claimed_value,metric,claimant\na,s,1,cume,Jos\xe9\n",
			[]want{{2, "claimant", "not valid UTF-8 at character 4 (save the file as UTF-8)"}}},
		{"claims.json", `[
  {"claim_id": "a", "stream_id": "s", "claimed_value": 1, "metric": "cume"},
  {
    "claim_id": "b",
    "stream_id": "s",
    "claimed_value": "60M",
    "metric": "views",
    "said_at": "yesterday",
    "views": 3
  },
  {"claim_id": "a", "stream_id": "s", "claimed_value": 2, "metric": "cume"},
  {"stream_id": "s", "metric": "cume"},
  {"claim_id": "c", "claim_id": "d", "stream_id": "s", "claimed_value": 1, "metric": "cume", "quote": "a\u0007b"},
  "not a claim",
  {"claim_id": "e", "stream_id": 5, "claimed_value": "12", "metric": "cume", "said_at": 1723510800},
  {"Claim_ID": "f", "claim_id": "f", "stream_id": "s", "claimed_value": 1.5e400, "metric": "cume", "source_url": "ftp://x"}
]`, []want{
			{6, "claimed_value", `"60M" is not a number`},
			{7, "metric", `"views" is not one of`},
			{8, "said_at", `"yesterday" is not an RFC 3339 time such as 2024-08-13T01:00:00Z`},
			{9, "", `unknown field "views"`},
			{11, "claim_id", `"a" is already the id of the claim on line 2`},
			{12, "claim_id", "missing"},
			{12, "claimed_value", "missing"},
			{13, "claim_id", "given twice in the claim (also on line 13)"},
			{13, "quote", "control character U+0007 at character 2"},
			{14, "", "expected a claim object, not a string"},
			{15, "stream_id", "must be a string, not a number"},
			{15, "claimed_value", `"12" is a string: write the number without quotes`},
			{15, "said_at", "must be a string, not a number"},
			{16, "", `unknown field "Claim_ID"`},
			{16, "claimed_value", "1.5e400 is out of range"},
			{16, "source_url", `"ftp://x" is not an absolute http or https URL`},
		}},
		{"syntax error.json", "[\n  {\"claim_id\": \"a\", \"stream_id\": \"s\", \"claimed_value\": 1, \"metric\": \"views\"},\n  {\"claim_id\": \"b\",\n   \"stream_id\": s}\n]",
			[]want{{2, "metric", "views"}, {4, "", "invalid JSON: invalid character 's' looking for beginning of value"}}},
		{"error deep in a later element.json", "[\n {\"claim_id\": \"x\", \"stream_id\": \"s\", \"claimed_value\": 1, \"metric\": \"cume\"},\n {\"claim_id\": \"y\", \"stream_id\": \"s\", \"claimed_value\": 1, \"metric\": \"cume\"},\n {\"claim_id\": \"z\",\n  \"quote\": [1,\n\n   2 3]}]",
			[]want{{7, "", "invalid JSON: invalid character '3' after array element"}}},
		{"trailing comma.json", "[\n  {\"claim_id\": \"a\", \"stream_id\": \"s\", \"claimed_value\": 1, \"metric\": \"cume\"},\n]\n",
			[]want{{3, "", "invalid character ']'"}}},
		{"cut short.json", "[\n  {\"claim_id\": \"a\", \"stream_id\": \"s\", \"claimed_value\": 1, \"metric\": \"cume\"},\n  {\"claim_id\": \"b\",\n",
			[]want{{3, "", "invalid JSON: unexpected end of the input"}}},
		{"after the array.json", "[]\n\n]", []want{{3, "", "unexpected text after the array"}}},
		{"csv in a json file.json", "\nclaim_id,stream_id\n", []want{{2, "", "expected a JSON array of claims, or one claim object per line"}}},
		{"one object over several lines.json", "{\n  \"claim_id\": \"a\"\n}\n",
			[]want{{1, "", "the claim object does not end on its line"}}},
		{"claims.ndjson", `{"claim_id":"a","stream_id":"s","claimed_value":1,"metric":"cume"}

{"claim_id":"b","stream_id":"s","claimed_value":1e400,"metric":"cume"}
{"claim_id":"c",,"stream_id":"s"}
[{"claim_id":"x"}]
{"claim_id":"a","stream_id":"s","claimed_value":2,"metric":"cume","extra":true}
{"claim_id":"d","stream_id":"s","claimed_value":1,"metric":"cume"} {}
{"claim_id":"e","stream_id":"s","claimed_value":1,"metric":"cume","quote":"a\u2028b"}
{"claim_id":"f","stream_id":"s","claimed_value":1,
{"claim_id":"g","stream_id":"s","claimed_value":"x","metric":"cume"}
`, []want{
			{3, "claimed_value", "1e400 is out of range"},
			{4, "", "invalid JSON: invalid character ','"},
			{5, "", "expected a claim object: this format holds one JSON object per line"},
			{6, "", `unknown field "extra"`},
			{6, "claim_id", `"a" is already the id of the claim on line 1`},
			{7, "", "more than one JSON value on the line"},
			{8, "quote", "line or paragraph separator U+2028 at character 2"},
			{9, "", "the claim object does not end on its line"}, // and reading stops: line 10 is not read
		}},
		{"-", "claim_id,stream_id,claimed_value,metric\na,s,x,cume\n", []want{{2, "claimed_value", `"x" is not a number`}}},
	}
	for _, tc := range cases {
		cs, err := Parse(tc.name, strings.NewReader(tc.body))
		if cs != nil {
			t.Errorf("%s: %d claims returned with the errors", tc.name, len(cs))
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: error %v, want a *ParseError", tc.name, err)
			continue
		}
		checkErrors(t, tc.name, pe, tc.want)
	}
}

// checkErrors matches pe's problems with want: the same number, in line order, each matching
// one wanted on its line (in any order within the line).
func checkErrors(t *testing.T, name string, pe *ParseError, wants []want) {
	t.Helper()
	file := name
	if name == "-" {
		file = "stdin"
	}
	got := pe.Errs
	if len(got) != len(wants) {
		t.Errorf("%s: %d errors, want %d:\n%v", name, len(got), len(wants), pe)
		return
	}
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, g := range got {
			if !used[i] && g.File == file && g.Line == w.line && g.Field == w.field && strings.Contains(g.Msg, w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("%s: no error %d %q %q in\n%v", name, w.line, w.field, w.msg, pe)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].Line < got[i-1].Line {
			t.Errorf("%s: errors out of line order:\n%v", name, pe)
		}
	}
}

func TestParseErrorFormat(t *testing.T) {
	_, err := Parse("claims.csv", strings.NewReader("claim_id,stream_id,claimed_value,metric\n\n\n\n\na,s,1,cume\nb,s,60M,cume\n"))
	if err == nil || err.Error() != `claims.csv:7: claimed_value: "60M" is not a number: write a plain number such as 60000000` {
		t.Fatalf("error %q", err)
	}
	var le LineError
	if !errors.As(err, &le) || le.Line != 7 || le.Field != "claimed_value" || le.File != "claims.csv" {
		t.Fatalf("errors.As: %+v", le)
	}
	if got := (LineError{File: "stdin", Msg: "empty file, no claims"}).Error(); got != "stdin: empty file, no claims" {
		t.Fatalf("file error %q", got)
	}
	if got := (LineError{File: "a.csv", Line: 1, Msg: "missing column metric"}).Error(); got != "a.csv:1: missing column metric" {
		t.Fatalf("record error %q", got)
	}
}

func TestParseStopsAfterMaxErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("claim_id,stream_id,claimed_value,metric\n")
	for i := range 30 {
		fmt.Fprintf(&b, "c%d,s,%dM,cume\n", i, i) // line i+2
	}
	_, err := Parse("many.csv", strings.NewReader(b.String()))
	var pe *ParseError
	if !errors.As(err, &pe) || len(pe.Errs) != MaxErrors || !pe.More {
		t.Fatalf("%v", err)
	}
	if pe.Errs[0].Line != 2 || pe.Errs[MaxErrors-1].Line != 21 {
		t.Fatalf("lines %d … %d", pe.Errs[0].Line, pe.Errs[MaxErrors-1].Line)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != MaxErrors+1 || lines[MaxErrors] != "many.csv: stopped after 20 errors" {
		t.Fatalf("message ends %q", lines[len(lines)-1])
	}
	// Exactly MaxErrors problems: all reported, and not "stopped".
	_, err = Parse("twenty.csv", strings.NewReader(strings.Join(strings.Split(b.String(), "\n")[:MaxErrors+1], "\n")))
	if !errors.As(err, &pe) || len(pe.Errs) != MaxErrors || pe.More {
		t.Fatalf("20 errors: %d, more %v", len(pe.Errs), pe.More)
	}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse("big.csv", strings.NewReader(strings.Repeat(" ", MaxFileSize+1)))
	if err == nil || !strings.Contains(err.Error(), "big.csv: larger than 64 MiB") {
		t.Fatalf("%v", err)
	}
}
