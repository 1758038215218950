// Package render draws a result (internal/result) for people and programs: a terminal table,
// JSON, CSV (the minute curve) and Markdown. It computes nothing: every number comes from the
// result, so the formats cannot disagree.
//
// Every string that comes from the database (stream ids, error codes, claims) goes through
// Text or %q before it reaches the terminal: the collector refuses control and format
// characters (event.ReasonBadChars), but rows written before it did, or by anyone with insert
// rights, must not be able to clear the screen or print a line of their own. Markdown escapes
// its own way (markdownText); JSON and CSV are escaped by their encoders.
package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/earshot/earshot/internal/result"
)

// Formats lists the output formats of Write.
var Formats = []string{"table", "json", "csv", "markdown"}

// Write renders res in format (see Formats); minutes adds the minute curve to the table and
// Markdown (JSON always has it, CSV is it).
func Write(w io.Writer, format string, res *result.Result, minutes bool) error {
	switch format {
	case "table", "":
		Table(w, res, minutes)
		return nil
	case "json":
		return JSON(w, res)
	case "csv":
		return CSV(w, res)
	case "markdown", "md":
		Markdown(w, res, minutes)
		return nil
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// Text returns s ready for a terminal: s itself when it is valid UTF-8 of printable characters
// (strconv.IsPrint: letters, marks, numbers, punctuation, symbols, the ASCII space) that does not
// start with a double quote; otherwise s quoted and escaped as Go does (strconv.Quote), so
// "\x1b[2J\r\n" for an escape sequence and a line break, "\u202e" for a bidi override, "\xff"
// for a byte that is not UTF-8. A bare value never starts with a quote and a quoted one always
// does, so one cannot pass for the other.
func Text(s string) string {
	if strings.HasPrefix(s, `"`) || !utf8.ValidString(s) || strings.IndexFunc(s, notPrint) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

func notPrint(r rune) bool { return !strconv.IsPrint(r) }
