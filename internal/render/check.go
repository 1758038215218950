package render

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/earshot/earshot/internal/result"
)

// Check writes `earshot check`'s answer: the sentence to paste, the verdict, and the figures
// the claim is often confused with.
func Check(w io.Writer, res *result.Result, v result.Verdict) {
	fmt.Fprintf(w, "%s\n\n", Text(v.Sentence))
	fmt.Fprintf(w, "  verdict: %s\n", capitalize(verdictLine(v)))
	if v.Measured != nil {
		fmt.Fprintf(w, "  measured %s: %s %s\n", v.Measured.Name, Round(v.Measured.Count), v.Measured.Note)
	}
	if len(v.Context) > 0 {
		fmt.Fprintf(w, "\n  often confused with it:\n")
	}
	for _, f := range v.Context {
		fmt.Fprintf(w, "    %-34s %-40s %s\n", f.Name, Round(f.Count), f.Note)
	}
	fmt.Fprintf(w, "\n  stream %s: %s", Text(res.StreamID), res.Status)
	if res.Status == result.StatusPartlyFinal || res.Status == result.StatusProvisional {
		fmt.Fprint(w, " (late events within the correction horizon may still change the figures)")
	}
	fmt.Fprintln(w)
}

// VerdictJSON writes one verdict as documented in docs/report.md (the items of "claims").
func VerdictJSON(w io.Writer, v result.Verdict) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
