package claims

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/earshot/earshot/pkg/event"
)

// Size limits of a claim's text fields. Ids are counted in bytes (stream_id as in events,
// where it is limited in bytes, so that a longer one could never match a stream); free text is
// counted in characters.
const (
	MaxClaimIDLen   = 64
	MaxStreamIDLen  = event.MaxStreamIDLen
	MaxClaimantLen  = 200
	MaxQuoteLen     = 2000
	MaxSourceURLLen = 2000
)

// said_at is stored as DateTime64(3, 'UTC'): a time at or before the epoch would be read back
// as "not given" (ForStream), and ClickHouse's DateTime64 ends in 2299.
var (
	minSaidAt = time.Unix(0, 0).UTC()
	maxSaidAt = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
)

// problem is one wrong field of a claim.
type problem struct{ field, msg string }

// Validate reports every field of c that is wrong, one "field: what is wrong" error each
// (errors.Join), or nil:
//
//   - claim_id (at most MaxClaimIDLen bytes) and stream_id (at most MaxStreamIDLen bytes) are
//     required, hold no control or invisible formatting character (Unicode Cf, as event ids)
//     and no space at either end; stream_id is in Unicode NFC, as the collector requires of
//     event stream ids (a claim about a stream id no event can carry could never be checked);
//   - metric is concurrent, cume or displayed;
//   - claimed_value is a finite number ≥ 0;
//   - claimant (MaxClaimantLen characters), quote (MaxQuoteLen) and source_url
//     (MaxSourceURLLen) are optional; they hold no control character (line breaks and tabs
//     included), no line or paragraph separator, no U+FFFD (text decoded wrongly somewhere) and
//     no invisible formatting character but the zero-width joiner and non-joiner, which emoji
//     and several scripts need; a source_url is an absolute http or https URL;
//   - said_at is optional; when given it is after 1970-01-01T00:00:00Z (the stored zero) and
//     before 2300.
func (c Claim) Validate() error {
	ps := c.problems()
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = errors.New(p.field + ": " + p.msg)
	}
	return errors.Join(errs...)
}

func (c Claim) problems() []problem {
	var ps []problem
	add := func(field, msg string) {
		if msg != "" {
			ps = append(ps, problem{field, msg})
		}
	}
	add("claim_id", checkID(c.ID, MaxClaimIDLen, false))
	add("stream_id", checkID(c.StreamID, MaxStreamIDLen, true))
	add("claimant", checkFreeText(c.Claimant, MaxClaimantLen))
	add("quote", checkFreeText(c.Quote, MaxQuoteLen))
	switch v := c.ClaimedValue; {
	case math.IsNaN(v) || math.IsInf(v, 0):
		add("claimed_value", fmt.Sprintf("%v is not a finite number", v))
	case v < 0:
		add("claimed_value", fmt.Sprintf("%v is negative", v))
	}
	switch c.Metric {
	case MetricConcurrent, MetricCume, MetricDisplayed:
	case "":
		add("metric", "missing (concurrent, cume or displayed)")
	default:
		add("metric", show(c.Metric)+" is not one of concurrent, cume, displayed")
	}
	if !c.SaidAt.IsZero() && (!c.SaidAt.After(minSaidAt) || !c.SaidAt.Before(maxSaidAt)) {
		add("said_at", c.SaidAt.UTC().Format(time.RFC3339)+" is not after 1970-01-01T00:00:00Z and before 2300")
	}
	add("source_url", checkURL(c.SourceURL))
	return ps
}

// checkID is what is wrong with a required id, or "".
func checkID(s string, max int, nfc bool) string {
	switch {
	case s == "":
		return "missing"
	case len(s) > max:
		return fmt.Sprintf("is %d bytes long, at most %d", len(s), max)
	case strings.TrimSpace(s) != s:
		return show(s) + " starts or ends with a space"
	}
	if msg := checkChars(s, true); msg != "" {
		return msg
	}
	if nfc && !norm.NFC.IsNormalString(s) {
		return show(s) + " is not in Unicode NFC (events' stream ids are; normalise it)"
	}
	return ""
}

// checkFreeText is what is wrong with an optional text field, or "".
func checkFreeText(s string, max int) string {
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Sprintf("is %d characters long, at most %d", n, max)
	}
	return checkChars(s, false)
}

func checkURL(s string) string {
	if s == "" {
		return ""
	}
	if msg := checkFreeText(s, MaxSourceURLLen); msg != "" {
		return msg
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return show(s) + " is not an absolute http or https URL"
	}
	return ""
}

// checkChars names the first character s must not hold and where, or returns "". It is the
// rule of pkg/event's checkText (which is not exported) for ids: no invalid UTF-8, no C0 or C1
// control or DEL, no U+2028/U+2029, no U+FFFD and no format character (Cf: bidi controls,
// zero-width characters, the BOM, the soft hyphen, tags). Free text (!id) may hold the
// zero-width non-joiner and joiner (U+200C, U+200D), part of emoji sequences and of Persian and
// Indic writing.
func checkChars(s string, id bool) string {
	n := 0
	for i, r := range s {
		n++
		what, hint := "", ""
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Sprintf("is not valid UTF-8 at character %d (save the file as UTF-8)", n)
			}
			what, hint = "replacement character", " (the text was decoded wrongly somewhere)"
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			what = "control character"
		case r == '\u2028' || r == '\u2029':
			what = "line or paragraph separator"
		case unicode.Is(unicode.Cf, r) && (id || (r != '\u200c' && r != '\u200d')):
			what = "invisible formatting character"
		default:
			continue
		}
		return fmt.Sprintf("%s %U at character %d%s", what, r, n, hint)
	}
	return ""
}

// show quotes a value for an error message, escaped as Go does (so a control character cannot
// act on the terminal) and cut to 40 characters.
func show(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "…"
	}
	return strconv.Quote(s)
}

// NewID is the claim id of an ad-hoc claim (one typed on the command line rather than
// imported): "c-" and the first 12 hex digits of the SHA-256 of stream_id, metric,
// claimed_value, said_at (UTC, to the millisecond as stored) and claimant. The same claim gets
// the same id every time, so saving it twice stores one claim. The quote and source_url are not
// part of it: correcting them keeps the id, and the claim is replaced.
func NewID(c Claim) string {
	v := c.ClaimedValue
	if v == 0 {
		v = 0 // -0 and 0 are one value
	}
	said := ""
	if !c.SaidAt.IsZero() {
		said = c.SaidAt.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
	}
	h := sha256.New()
	for _, f := range []string{c.StreamID, c.Metric, strconv.FormatFloat(v, 'g', -1, 64), said, c.Claimant} {
		fmt.Fprintf(h, "%d:%s,", len(f), f) // length-prefixed: no two field lists hash alike
	}
	return "c-" + hex.EncodeToString(h.Sum(nil))[:12]
}
