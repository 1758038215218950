package claims

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MaxErrors is how many problems Parse reports before it stops reading: enough to fix a file
// in one go, not so many that the first ones scroll away.
const MaxErrors = 20

// MaxFileSize bounds what Parse reads.
const MaxFileSize = 64 << 20

// columns are the fields of a claim, in CSV and JSON alike; required ones must be in a CSV
// header (the others may be left out, as in JSON).
var (
	columns         = []string{"claim_id", "stream_id", "claimant", "quote", "claimed_value", "metric", "said_at", "source_url"}
	requiredColumns = []string{"claim_id", "stream_id", "claimed_value", "metric"}
)

// LineError is one problem in a claims file.
type LineError struct {
	File  string // as given to Parse; "stdin" for "-"
	Line  int    // 1-based; 0 for the file as a whole
	Field string // the column or JSON field, or "" for a whole record or the file
	Msg   string
}

// Error is "claims.csv:7: claimed_value: "60M" is not a number".
func (e LineError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ParseError is what Parse returns for a file with problems: every problem up to MaxErrors, in
// line order. Its message has one line per problem.
type ParseError struct {
	Errs []LineError
	More bool // there were more than MaxErrors problems; Parse stopped reading at the next one
}

func (e *ParseError) Error() string {
	msgs := make([]string, 0, len(e.Errs)+1)
	for _, le := range e.Errs {
		msgs = append(msgs, le.Error())
	}
	if e.More && len(e.Errs) > 0 {
		msgs = append(msgs, fmt.Sprintf("%s: stopped after %d errors", e.Errs[0].File, len(e.Errs)))
	}
	return strings.Join(msgs, "\n")
}

// Unwrap returns each LineError, for errors.As.
func (e *ParseError) Unwrap() []error {
	errs := make([]error, len(e.Errs))
	for i, le := range e.Errs {
		errs[i] = le
	}
	return errs
}

// Parse reads the claims of one file, all or nothing. name is the file's name ("-" for stdin)
// and decides the format by its extension:
//
//   - .csv: CSV with a header row naming the columns, in any order: claim_id, stream_id,
//     claimed_value and metric are required, claimant, quote, said_at and source_url optional,
//     and any other column is an error. claimed_value is a plain number, integer or decimal
//     (60000000 or 1.5, never "60,000,000", "60M" or "6e7"); said_at is RFC 3339
//     (2024-08-13T01:00:00Z) or empty. Rows with every field empty are skipped.
//   - .json: a JSON array of claim objects, or NDJSON (as .ndjson) when the first character is
//     "{".
//   - .ndjson, .jsonl: one claim object per line; blank lines are skipped.
//   - any other name, and "-": JSON as .json when the first character (after white space) is
//     "[" or "{", CSV otherwise.
//
// JSON objects have the fields of Claim; an unknown field (names are case-sensitive), a field
// given twice and a value of the wrong JSON type are errors; claimed_value must be a JSON
// number (not a string), said_at a string (RFC 3339) and may be empty or null, as may the
// optional strings. A UTF-8 byte order mark at the start is ignored; text must be UTF-8.
//
// Every claim is then checked (Claim.Validate), and a claim_id used twice in the file is an
// error naming both lines. Problems are collected, up to MaxErrors, and returned as a
// *ParseError whose messages name the file, the line and the field:
//
//	claims.csv:7: claimed_value: "60M" is not a number: write a plain number such as 60000000
//
// The line of a CSV value is where its field starts; in JSON it is the line of the field's
// name, or of the object's "{" for a missing field or a problem of the whole claim.
func Parse(name string, r io.Reader) ([]Claim, error) {
	file := name
	if name == "-" || name == "" {
		file = "stdin"
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d MiB", file, MaxFileSize>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	p := &parser{file: file, ids: map[string]int{}}
	start := skipSpace(data, 0)
	if start == len(data) {
		p.add(0, "", "empty file, no claims")
		return nil, &p.errs
	}
	first := data[start]
	switch ext := strings.ToLower(filepath.Ext(name)); {
	case ext == ".csv":
		p.csv(data)
	case ext == ".ndjson" || ext == ".jsonl":
		p.ndjson(data)
	case first == '[':
		p.array(data)
	case first == '{':
		p.ndjson(data)
	case ext == ".json":
		p.add(newLines(data).at(int64(start)), "", "expected a JSON array of claims, or one claim object per line")
	default:
		p.csv(data)
	}
	if len(p.errs.Errs) > 0 {
		sort.SliceStable(p.errs.Errs, func(i, j int) bool { return p.errs.Errs[i].Line < p.errs.Errs[j].Line })
		return nil, &p.errs
	}
	return p.out, nil
}

// LoadFile opens path and parses it (Parse).
func LoadFile(path string) ([]Claim, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

type parser struct {
	file string
	errs ParseError
	ids  map[string]int // claim id → the line it was first seen on
	out  []Claim
}

// add records a problem. Past MaxErrors it sets errs.More instead, and the parsers stop.
func (p *parser) add(line int, field, msg string) {
	if len(p.errs.Errs) == MaxErrors {
		p.errs.More = true
		return
	}
	p.errs.Errs = append(p.errs.Errs, LineError{File: p.file, Line: line, Field: field, Msg: msg})
}

// record is one claim being read.
type record struct {
	c     Claim
	line  int             // where the claim starts
	lines map[string]int  // where each field was given
	bad   map[string]bool // fields whose value could not be read (already reported)
}

func newRecord(line int) *record {
	return &record{line: line, lines: map[string]int{}, bad: map[string]bool{}}
}

func (r *record) lineOf(field string) int {
	if l := r.lines[field]; l > 0 {
		return l
	}
	return r.line
}

// finish validates a record that was read and keeps it.
func (p *parser) finish(r *record) {
	badID := r.bad["claim_id"]
	for _, pr := range r.c.problems() {
		if !r.bad[pr.field] {
			p.add(r.lineOf(pr.field), pr.field, pr.msg)
		}
		badID = badID || pr.field == "claim_id"
	}
	if !badID {
		line := r.lineOf("claim_id")
		if first, ok := p.ids[r.c.ID]; ok {
			p.add(line, "claim_id", fmt.Sprintf("%s is already the id of the claim on line %d", show(r.c.ID), first))
		} else {
			p.ids[r.c.ID] = line
		}
	}
	p.out = append(p.out, r.c)
}

// set stores a value read as text into its field, reporting what cannot be read.
func (p *parser) set(r *record, field, v string, line int) {
	r.lines[field] = line
	var msg string
	switch field {
	case "claim_id":
		r.c.ID = v
	case "stream_id":
		r.c.StreamID = v
	case "claimant":
		r.c.Claimant = v
	case "quote":
		r.c.Quote = v
	case "metric":
		r.c.Metric = v
	case "source_url":
		r.c.SourceURL = v
	case "claimed_value":
		r.c.ClaimedValue, msg = parseNumber(v)
	case "said_at":
		r.c.SaidAt, msg = parseSaidAt(v)
	}
	if msg != "" {
		p.add(line, field, msg)
		r.bad[field] = true
	}
}

var (
	plainNumber     = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	thousandsNumber = regexp.MustCompile(`^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$`)
)

// parseNumber reads a claimed_value written as text: a plain number, integer or decimal.
func parseNumber(s string) (float64, string) {
	switch {
	case s == "":
		return 0, "missing"
	case plainNumber.MatchString(s):
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, show(s) + " is out of range"
		}
		return v, ""
	case thousandsNumber.MatchString(s):
		return 0, show(s) + " is not a number: write it without thousands separators, as " + strings.ReplaceAll(s, ",", "")
	case s[0] == '-' && plainNumber.MatchString(s[1:]):
		return 0, show(s) + " is negative"
	}
	return 0, show(s) + " is not a number: write a plain number such as 60000000"
}

func parseSaidAt(s string) (time.Time, string) {
	if s == "" {
		return time.Time{}, ""
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, show(s) + " is not an RFC 3339 time such as 2024-08-13T01:00:00Z"
	}
	return t, ""
}

// csv reads a CSV file with a header row.
func (p *parser) csv(data []byte) {
	rd := csv.NewReader(bytes.NewReader(data))
	rd.TrimLeadingSpace = true // "a, b" as written by hand; spreadsheets write no such space
	header, err := rd.Read()
	if err != nil {
		p.csvError(err)
		return
	}
	hline, _ := rd.FieldPos(0)
	cols := make([]string, len(header))
	seen := map[string]bool{}
	known := 0
	for i, h := range header {
		cols[i] = strings.TrimSpace(h)
		if slices.Contains(columns, cols[i]) {
			known++
		}
	}
	if known == 0 {
		p.add(hline, "", "the first row must be a header naming the columns ("+strings.Join(columns, ", ")+")")
		return
	}
	for i, h := range cols {
		switch {
		case h == "":
			p.add(hline, "", fmt.Sprintf("column %d has no name (the columns are %s)", i+1, strings.Join(columns, ", ")))
		case !slices.Contains(columns, h):
			p.add(hline, "", fmt.Sprintf("unknown column %s (the columns are %s)", show(h), strings.Join(columns, ", ")))
		case seen[h]:
			p.add(hline, "", "column "+h+" appears twice")
		}
		seen[h] = true
	}
	for _, h := range requiredColumns {
		if !seen[h] {
			p.add(hline, "", "missing column "+h)
		}
	}
	if len(p.errs.Errs) > 0 {
		return
	}
	for !p.errs.More {
		rec, err := rd.Read()
		if err == io.EOF {
			return
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
			p.add(pe.StartLine, "", fmt.Sprintf("%d fields, the header has %d", len(rec), len(cols)))
			continue
		}
		if err != nil {
			p.csvError(err)
			return
		}
		if !slices.ContainsFunc(rec, func(v string) bool { return strings.TrimSpace(v) != "" }) {
			continue
		}
		line, _ := rd.FieldPos(0)
		r := newRecord(line)
		for i, v := range rec {
			line, _ := rd.FieldPos(i)
			p.set(r, cols[i], v, line)
		}
		p.finish(r)
	}
}

// csvError reports a CSV syntax error. The reader cannot be trusted after one (a stray quote
// may have swallowed the lines after it), so reading stops.
func (p *parser) csvError(err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		p.add(pe.Line, "", fmt.Sprintf("malformed CSV at character %d: %v", pe.Column, pe.Err))
		return
	}
	p.add(0, "", err.Error())
}

// lines maps byte offsets to line numbers.
type lines []int // offsets of the newlines

func newLines(data []byte) lines {
	var ls lines
	for i, b := range data {
		if b == '\n' {
			ls = append(ls, i)
		}
	}
	return ls
}

// at is the 1-based line of the byte at offset off.
func (ls lines) at(off int64) int {
	return 1 + sort.SearchInts(ls, int(off))
}

// skipSpace is the offset of the first byte at or after i that is not JSON white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// array reads a JSON array of claim objects, element by element, so that each has its line.
func (p *parser) array(data []byte) {
	ls := newLines(data)
	lineAt := func(off int64) int { return ls.at(off) }
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // "[", as Parse saw
		p.jsonError(err, lineAt, len(data))
		return
	}
	for dec.More() && !p.errs.More {
		// InputOffset is the end of the previous token; the element starts after the comma.
		start := int(dec.InputOffset())
		for start < len(data) && strings.IndexByte(" \t\r\n,", data[start]) >= 0 {
			start++
		}
		if start < len(data) && data[start] != '{' {
			var raw json.RawMessage
			if err := decode(dec, data, &raw); err != nil {
				p.jsonError(err, lineAt, len(data))
				return
			}
			p.add(ls.at(int64(start)), "", "expected a claim object, not "+jsonKind(raw))
			continue
		}
		r, err := p.object(dec, data, lineAt)
		if err != nil {
			p.jsonError(err, lineAt, len(data))
			return
		}
		p.finish(r)
	}
	if p.errs.More {
		return
	}
	if _, err := dec.Token(); err != nil { // "]"
		p.jsonError(err, lineAt, len(data))
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		p.add(ls.at(dec.InputOffset()), "", "unexpected text after the array of claims")
	}
}

// ndjson reads one claim object per line.
func (p *parser) ndjson(data []byte) {
	for i, text := range bytes.Split(data, []byte("\n")) {
		if p.errs.More {
			return
		}
		n := i + 1
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		if text[0] != '{' {
			p.add(n, "", "expected a claim object: this format holds one JSON object per line")
			continue
		}
		lineAt := func(int64) int { return n }
		dec := json.NewDecoder(bytes.NewReader(text))
		r, err := p.object(dec, text, lineAt)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// The object goes on past its line: JSON written over several lines, each of which
			// would be an error of its own.
			p.add(n, "", "the claim object does not end on its line: write one claim object per line, or a JSON array of claims")
			return
		}
		if err != nil {
			p.jsonError(err, lineAt, len(text))
			continue
		}
		if _, err := dec.Token(); err != io.EOF {
			p.add(n, "", "more than one JSON value on the line: one claim object per line")
			continue
		}
		p.finish(r)
	}
}

// object reads one claim object from dec (reading src), reporting what is wrong with its fields. The error is
// a JSON syntax error, not yet reported, after which dec cannot go on.
func (p *parser) object(dec *json.Decoder, src []byte, lineAt func(int64) int) (*record, error) {
	if _, err := dec.Token(); err != nil { // "{"
		return nil, err
	}
	r := newRecord(lineAt(dec.InputOffset() - 1))
	raws := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string) // the decoder allows only strings as keys
		line := lineAt(dec.InputOffset() - 1)
		var raw json.RawMessage
		if err := decode(dec, src, &raw); err != nil {
			return nil, err
		}
		switch {
		case !slices.Contains(columns, key):
			p.add(line, "", fmt.Sprintf("unknown field %s (the fields are %s)", show(key), strings.Join(columns, ", ")))
		case raws[key] != nil:
			p.add(line, key, fmt.Sprintf("given twice in the claim (also on line %d)", r.lines[key]))
			r.bad[key] = true
		default:
			raws[key] = raw
			r.lines[key] = line
		}
	}
	if _, err := dec.Token(); err != nil { // "}"
		return nil, err
	}
	for _, field := range columns {
		raw, given := raws[field]
		if !given || r.bad[field] {
			continue
		}
		line := r.lines[field]
		if field == "claimed_value" {
			v, msg := jsonNumber(raw)
			r.c.ClaimedValue = v
			if msg != "" {
				p.add(line, field, msg)
				r.bad[field] = true
			}
			continue
		}
		if raw[0] != '"' && string(raw) != "null" {
			p.add(line, field, "must be a string, not "+jsonKind(raw))
			r.bad[field] = true
			continue
		}
		var s string
		json.Unmarshal(raw, &s) // a valid JSON string or null: cannot fail
		p.set(r, field, s, line)
	}
	if _, given := raws["claimed_value"]; !given && !r.bad["claimed_value"] {
		p.add(r.line, "claimed_value", "missing")
		r.bad["claimed_value"] = true
	}
	return r, nil
}

// jsonNumber reads claimed_value as JSON: a number.
func jsonNumber(raw json.RawMessage) (float64, string) {
	switch raw[0] {
	case 'n':
		return 0, "missing"
	case '"':
		var s string
		json.Unmarshal(raw, &s)
		if plainNumber.MatchString(s) {
			return 0, show(s) + " is a string: write the number without quotes"
		}
		return 0, show(s) + " is not a number: write a plain number such as 60000000"
	case '{', '[', 't', 'f':
		return 0, "must be a number, not " + jsonKind(raw)
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, string(raw) + " is out of range"
	}
	return v, ""
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// syntaxError is a JSON syntax error at an offset of the input.
type syntaxError struct {
	off int64
	err error
}

func (e *syntaxError) Error() string { return e.err.Error() }

// decode is dec.Decode, where src is dec's whole input, with the offset of a syntax error made
// one of src: Decode's counts only the bytes it scanned itself, over all its calls (not those
// Token read), so it is recomputed by decoding the value again from where it starts.
func decode(dec *json.Decoder, src []byte, v any) error {
	err := dec.Decode(v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	start := dec.InputOffset() // after the comma or colon before the value
	var raw json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(src[start:])).Decode(&raw); errors.As(err, &se) {
		return &syntaxError{off: start + se.Offset - 1, err: err} // one past the character in error
	}
	return &syntaxError{off: start, err: err}
}

// jsonError reports a JSON syntax error, after which reading stops (or goes on at the next line,
// for NDJSON).
func (p *parser) jsonError(err error, lineAt func(int64) int, size int) {
	var (
		se  *json.SyntaxError
		dse *syntaxError
	)
	switch {
	case errors.As(err, &dse):
		p.add(lineAt(dse.off), "", "invalid JSON: "+dse.Error())
	case errors.As(err, &se):
		p.add(lineAt(se.Offset), "", "invalid JSON: "+se.Error())
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		p.add(lineAt(int64(max(size-1, 0))), "", "invalid JSON: unexpected end of the input")
	default:
		p.add(lineAt(int64(max(size-1, 0))), "", "invalid JSON: "+err.Error())
	}
}
