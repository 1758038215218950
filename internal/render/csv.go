package render

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/earshot/earshot/internal/result"
)

// CSVHeader is the minute curve's columns, in order.
var CSVHeader = []string{"stream_id", "minute", "connected", "connected_lo", "connected_hi", "connected_exact",
	"hearing", "hearing_lo", "hearing_hi", "hearing_exact", "peak_concurrent", "peak_concurrent_hearing",
	"displayed_max", "displayed_last", "joins", "leaves", "timeouts", "plays", "start_failures", "errors",
	"played_ms", "muted_ms", "stalled_ms", "final"}

// CSV writes the minute curve, one row a minute (displayed columns empty where the platform's
// counter was not seen). Spreadsheets take it as it is.
func CSV(w io.Writer, res *result.Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	b := func(v bool) string { return strconv.FormatBool(v) }
	opt := func(v *uint64) string {
		if v == nil {
			return ""
		}
		return u(*v)
	}
	for _, m := range res.Minutes {
		if err := cw.Write([]string{cell(res.StreamID), m.Minute.Format(time.RFC3339),
			f(m.Connected.Value), f(m.Connected.Lo), f(m.Connected.Hi), b(m.Connected.Exact),
			f(m.Hearing.Value), f(m.Hearing.Lo), f(m.Hearing.Hi), b(m.Hearing.Exact),
			u(m.PeakConcurrent), u(m.PeakConcurrentHearing), opt(m.DisplayedMax), opt(m.DisplayedLast),
			u(m.Joins), u(m.Leaves), u(m.Timeouts), u(m.Plays), u(m.StartFailures), u(m.Errors),
			u(m.PlayedMS), u(m.MutedMS), u(m.StalledMS), b(m.Final)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell keeps a text cell from being run as a formula by a spreadsheet: one starting with =, +,
// -, @, a tab or a carriage return gets a leading apostrophe (OWASP, "CSV injection"). Stream
// ids come from clients; the other cells are numbers, times and booleans.
func cell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}
