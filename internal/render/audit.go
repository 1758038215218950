package render

import (
	"fmt"
	"io"

	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/result"
)

// Audit writes `earshot audit`: a stream's distinct listeners counted three ways.
func Audit(w io.Writer, stream string, a report.Audit) {
	fmt.Fprintf(w, "stream %s: distinct listeners with events\n", Text(stream))
	fmt.Fprintf(w, "  uniqExact over events_raw             %s\n", n(a.Exact))
	fmt.Fprintf(w, "  earshot sketches (cume connected)     %s\n", Round(result.Count{Value: a.Sketch.Value, Lo: a.Sketch.Lo, Hi: a.Sketch.Hi, Exact: a.Sketch.Exact}))
	fmt.Fprintf(w, "  SQL uniqCombined64 (listener_minutes) %s\n", n(a.SQL))
	if a.Covered() {
		fmt.Fprintln(w, "  ok: the exact count is inside the stated interval")
	} else {
		fmt.Fprintln(w, "  FAILED: the exact count is outside the stated interval")
	}
}
