package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// TestGolden pins every format's output for the fixture: a change to any output shows up as a
// diff of testdata/report.* to review (go test ./internal/render -update rewrites them).
func TestGolden(t *testing.T) {
	res := fixture("x-space-2024-08-12", "network", "")
	for _, format := range []string{"table", "json", "csv", "markdown"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			if err := Write(&out, format, res, true); err != nil {
				t.Fatal(err)
			}
			golden(t, "report."+format, out.Bytes())
		})
	}
	t.Run("no data", func(t *testing.T) {
		var out bytes.Buffer
		if err := Write(&out, "table", result.Build("gone", nil, nil), true); err != nil {
			t.Fatal(err)
		}
		golden(t, "nodata.table", out.Bytes())
	})
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/render -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

// TestJSONMatchesSchema validates the JSON of every kind of result against the published
// schema (docs/report.schema.json), so the documented shape and the output cannot drift.
func TestJSONMatchesSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join(testenv.RepoRoot(), "docs", "report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	final := fixtureStream("s", "network")
	final.FinalTo = final.To
	for name, res := range map[string]*result.Result{
		"fixture": fixture("x-space-2024-08-12", "network", ""),
		"no data": result.Build("gone", nil, nil),
		"final":   result.Build("s", final, nil),
	} {
		var out bytes.Buffer
		if err := JSON(&out, res); err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(&out)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The schema rejects what it should: a validator that accepts everything proves nothing.
	var out bytes.Buffer
	JSON(&out, fixture("s", "network", ""))
	var m map[string]any
	json.Unmarshal(out.Bytes(), &m)
	m["status"] = "maybe"
	if err := sch.Validate(m); err == nil {
		t.Error("the schema accepts status \"maybe\"")
	}
	delete(m, "status")
	m["status"] = "final"
	m["extra"] = 1
	if err := sch.Validate(m); err == nil {
		t.Error("the schema accepts an undocumented field")
	}
}
