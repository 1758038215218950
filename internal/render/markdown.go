package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/earshot/earshot/internal/result"
)

// Markdown writes the result for a newsroom's CMS or a chat: a totals table with each metric's
// definition, optionally the minute curve, and each claim as a quote with its verdict sentence.
func Markdown(w io.Writer, res *result.Result, minutes bool) {
	if res.Totals == nil {
		fmt.Fprintf(w, "## Stream %s\n\nNo data for this stream and time range.\n", markdownText(res.StreamID))
	} else {
		fmt.Fprintf(w, "## %s\n\n", capitalize(title(res, markdownText)))
		fmt.Fprintf(w, "| figure | value | note | definition |\n|---|---|---|---|\n")
		for _, f := range figures(res, markdownText) {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.name, f.value, f.note, markdownText(res.Definitions[f.metric]))
		}
		if c := res.DisplayedCounter; c != nil {
			fmt.Fprintf(w, "\n**What the displayed counter counts.** %s\n", markdownText(c.Summary))
		}
	}
	if minutes && len(res.Minutes) > 0 {
		fmt.Fprintf(w, "\n| minute (UTC) | connected | hearing | peak | displayed | joins | failed starts | final |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
		for _, m := range res.Minutes {
			disp := ""
			if m.DisplayedMax != nil {
				disp = fmt.Sprint(*m.DisplayedMax)
			}
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %d | %s | %d | %d | %t |\n", m.Minute.Format("15:04"), m.Connected.Value,
				m.Hearing.Value, m.PeakConcurrent, disp, m.Joins, m.StartFailures, m.Final)
		}
	}
	if len(res.Claims) > 0 {
		fmt.Fprintf(w, "\n### Claims\n")
	}
	for _, v := range res.Claims {
		c := v.Claim
		fmt.Fprintf(w, "\n> %s\n>\n> — %s", markdownText(c.Quote), markdownText(c.Claimant))
		if c.SaidAt != nil {
			fmt.Fprintf(w, ", %s", c.SaidAt.Format("2006-01-02 15:04 UTC"))
		}
		if c.SourceURL != "" {
			fmt.Fprintf(w, " ([source](%s))", markdownURL(c.SourceURL))
		}
		fmt.Fprintf(w, "\n\n**%s.** %s\n", capitalize(markdownText(verdictLine(v))), markdownText(v.Sentence))
	}
}

// markdownText escapes what Markdown or inline HTML would interpret, and folds line breaks, so
// stored text shows as written and cannot open a table cell, a link or a tag of its own.
func markdownText(s string) string {
	s = Text(s) // terminals and chats both show it: control and format characters escaped first
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '-', '!', '|', '>', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// markdownURL keeps a link target inside its parentheses: http(s) URLs only (claims.Validate
// checks the scheme too), every byte that is not printable ASCII, and those that would end the
// target, percent-encoded.
func markdownURL(u string) string {
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return "#"
	}
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>[]\\`", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
