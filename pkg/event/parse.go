package event

import (
	"bytes"
	"errors"
	"fmt"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// A hand-written scanner for the flat event object: encoding/json costs several microseconds
// and allocations per event, which alone would miss the collector's budget of 1 µs per event
// for parse → record. It is strict JSON (RFC 8259) for what it accepts; FuzzParse checks it
// against encoding/json.

// ErrSyntax wraps every malformed-JSON error.
var ErrSyntax = errors.New("malformed JSON")

// maxDepth bounds nesting inside ignored fields, so hostile bodies cannot recurse deeply.
const maxDepth = 16

type scanner struct {
	b []byte
	i int
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, s.i, fmt.Sprintf(format, args...))
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) expect(c byte) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != c {
		return s.errorf("expected %q", c)
	}
	s.i++
	return nil
}

// str reads a JSON string. The result aliases the input when there are no escapes (the common
// case, no allocation) and is a fresh slice otherwise.
func (s *scanner) str() ([]byte, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, s.errorf("expected string")
	}
	s.i++
	start := s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			out := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(out) {
				return nil, s.errorf("invalid UTF-8 in string")
			}
			return out, nil
		case c == '\\':
			return s.strSlow(start)
		case c < 0x20:
			return nil, s.errorf("control character in string")
		case c >= 0x80:
			ascii = false
		}
		s.i++
	}
	return nil, s.errorf("unterminated string")
}

func (s *scanner) strSlow(start int) ([]byte, error) {
	out := append(make([]byte, 0, s.i-start+16), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if !utf8.Valid(out) {
				return nil, s.errorf("invalid UTF-8 in string")
			}
			return out, nil
		case c < 0x20:
			return nil, s.errorf("control character in string")
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, s.errorf("unterminated escape")
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A valid pair decodes to one rune; anything else is U+FFFD and the next escape
				// is read again on its own, as encoding/json does.
				save, paired := s.i, false
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					if r2, ok := s.hex4(); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r, paired = d, true
						}
					}
				}
				if !paired {
					s.i, r = save, utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, s.errorf("bad escape \\%c", e)
		}
	}
	return nil, s.errorf("unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// number reads a JSON number and returns its text.
func (s *scanner) number() ([]byte, error) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	intStart := s.i
	if n := digits(); n == 0 {
		return nil, s.errorf("bad number")
	} else if n > 1 && s.b[intStart] == '0' {
		return nil, s.errorf("bad number: leading zero")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, s.errorf("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, s.errorf("bad number")
		}
	}
	return s.b[start:s.i], nil
}

func (s *scanner) literal(word string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return s.errorf("invalid literal")
	}
	s.i += len(word)
	return nil
}

// skip reads and discards any JSON value.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.errorf("nesting deeper than %d", maxDepth)
	}
	s.ws()
	if s.i >= len(s.b) {
		return s.errorf("unexpected end of input")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{' || c == '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == closing {
			s.i++
			return nil
		}
		for {
			if c == '{' {
				s.ws()
				if _, err := s.str(); err != nil {
					return err
				}
				if err := s.expect(':'); err != nil {
					return err
				}
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			if done, err := s.sep(closing); err != nil || done {
				return err
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err := s.number()
		return err
	default:
		return s.errorf("unexpected character %q", c)
	}
}

// object parses one JSON value that should be an event object into e. A syntax error ends the
// body (the scanner cannot know where the next event starts in an array); a well-formed value
// of the wrong kind only rejects this event, with the first such Reason.
func (s *scanner) object(e *Event) (Reason, error) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		if err := s.skip(0); err != nil {
			return "", err
		}
		return ReasonNotObject, nil
	}
	s.i++
	var bad Reason
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return ReasonMissingEventID, nil
	}
	for {
		s.ws()
		key, err := s.str()
		if err != nil {
			return "", err
		}
		k := keyOf(key)
		if err := s.expect(':'); err != nil {
			return "", err
		}
		s.ws()
		r, err := s.field(k, e)
		if err != nil {
			return "", err
		}
		if bad == "" {
			bad = r
		}
		if done, err := s.sep('}'); err != nil || done {
			return bad, err
		}
	}
}

// sep reads what follows a member of an object or array: ',' (more follow) or closing (done).
func (s *scanner) sep(closing byte) (done bool, err error) {
	s.ws()
	if s.i >= len(s.b) {
		return false, s.errorf("unexpected end of input")
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		return true, nil
	}
	return false, s.errorf("expected ',' or %q", closing)
}

type key uint8

const (
	keyUnknown key = iota
	keyEventID
	keyType
	keyStreamID
	keyListenerID
	keyTS
	keySentAt
	keyPlayedMS
	keyStalledMS
	keyMuted
	keyErrorCode
	keyDisplayedCount
	keyClient
	keyTicket
)

func keyOf(b []byte) key {
	switch string(b) {
	case "event_id":
		return keyEventID
	case "type":
		return keyType
	case "stream_id":
		return keyStreamID
	case "listener_id":
		return keyListenerID
	case "ts":
		return keyTS
	case "sent_at":
		return keySentAt
	case "played_ms":
		return keyPlayedMS
	case "stalled_ms":
		return keyStalledMS
	case "muted":
		return keyMuted
	case "error_code":
		return keyErrorCode
	case "displayed_count":
		return keyDisplayedCount
	case "client":
		return keyClient
	case "ticket":
		return keyTicket
	}
	return keyUnknown
}

func (s *scanner) peekNull() bool {
	if bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// field reads the value of one key into e. Unknown keys are skipped (forward compatibility);
// null is treated as absent.
func (s *scanner) field(k key, e *Event) (Reason, error) {
	if k == keyUnknown {
		return "", s.skip(0)
	}
	if s.peekNull() {
		return "", nil
	}
	if s.i >= len(s.b) {
		return "", s.errorf("unexpected end of input")
	}
	c := s.b[s.i]
	switch k {
	case keyEventID, keyType, keyStreamID, keyListenerID, keyErrorCode, keyTicket:
		if c != '"' {
			return wrongType(k), s.skip(0)
		}
		v, err := s.str()
		if err != nil {
			return "", err
		}
		switch k {
		case keyEventID:
			e.EventID = v
		case keyType:
			e.TypeName = v
			e.Type, _ = ParseType(v)
		case keyStreamID:
			e.StreamID = v
		case keyListenerID:
			e.ListenerID = v
		case keyErrorCode:
			e.ErrorCode = v
		case keyTicket:
			e.Ticket = v
		}
		return "", nil
	case keyTS:
		e.HasTS = true
		ms, ok, err := s.timestamp(c)
		if !ok {
			return ReasonBadTS, err
		}
		e.TSMillis = ms
		return "", err
	case keySentAt:
		e.HasSentAt = true
		ms, ok, err := s.timestamp(c)
		if !ok {
			return ReasonBadSentAt, err
		}
		e.SentAtMillis = ms
		return "", err
	case keyPlayedMS, keyStalledMS, keyDisplayedCount:
		if !(c == '-' || c >= '0' && c <= '9') {
			return wrongType(k), s.skip(0)
		}
		v, err := s.number()
		if err != nil {
			return "", err
		}
		n, ok := parseUint(v)
		if !ok {
			return wrongType(k), nil
		}
		switch k {
		case keyPlayedMS:
			e.PlayedMS, e.HasPlayed = n, true
		case keyStalledMS:
			e.StalledMS, e.HasStalled = n, true
		case keyDisplayedCount:
			e.DisplayedCount, e.HasDisplayed = n, true
		}
		return "", nil
	case keyMuted:
		switch c {
		case 't':
			e.Muted, e.HasMuted = true, true
			return "", s.literal("true")
		case 'f':
			e.Muted, e.HasMuted = false, true
			return "", s.literal("false")
		}
		return ReasonBadMuted, s.skip(0)
	case keyClient:
		if c != '{' {
			return ReasonBadClient, s.skip(0)
		}
		return s.client(e)
	}
	return "", s.skip(0)
}

// timestamp reads a time value whose first byte is c: an RFC 3339 string or an integer of unix
// milliseconds. ok is false for a well-formed value of another kind or format (the event is
// rejected); err is a syntax error (the body is).
func (s *scanner) timestamp(c byte) (ms int64, ok bool, err error) {
	switch {
	case c == '"':
		v, err := s.str()
		if err != nil {
			return 0, false, err
		}
		ms, ok = parseRFC3339Millis(v)
		return ms, ok, nil
	case c == '-' || c >= '0' && c <= '9':
		v, err := s.number()
		if err != nil {
			return 0, false, err
		}
		ms, ok = parseUint(v)
		return ms, ok, nil
	}
	return 0, false, s.skip(0)
}

// client reads the small {app, version, platform} object.
func (s *scanner) client(e *Event) (Reason, error) {
	s.i++ // '{'
	e.HasClient = true
	var bad Reason
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return "", nil
	}
	for {
		s.ws()
		k, err := s.str()
		if err != nil {
			return "", err
		}
		var dst *[]byte
		switch string(k) {
		case "app":
			dst = &e.Client.App
		case "version":
			dst = &e.Client.Version
		case "platform":
			dst = &e.Client.Platform
		}
		if err := s.expect(':'); err != nil {
			return "", err
		}
		s.ws()
		switch {
		case dst == nil:
			if err := s.skip(1); err != nil {
				return "", err
			}
		case s.peekNull():
		case s.i < len(s.b) && s.b[s.i] == '"':
			v, err := s.str()
			if err != nil {
				return "", err
			}
			*dst = v
		default:
			bad = ReasonBadClient
			if err := s.skip(1); err != nil {
				return "", err
			}
		}
		if done, err := s.sep('}'); err != nil || done {
			return bad, err
		}
	}
}

func wrongType(k key) Reason {
	switch k {
	case keyEventID:
		return ReasonBadEventID
	case keyType:
		return ReasonBadType
	case keyStreamID:
		return ReasonBadStreamID
	case keyListenerID:
		return ReasonBadListenerID
	case keyErrorCode:
		return ReasonBadErrorCode
	case keyPlayedMS:
		return ReasonBadPlayedMS
	case keyStalledMS:
		return ReasonBadStalledMS
	case keyDisplayedCount:
		return ReasonBadDisplayedCount
	case keyTicket:
		return ReasonBadTicket
	}
	return ReasonMalformed
}

// parseUint accepts a JSON integer 0 ≤ n < 2^53 (larger ones are not exact in JavaScript
// clients either). Fractions and exponents are rejected.
func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 16 || b[0] == '-' {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n < 1<<53
}

// parseRFC3339Millis parses an RFC 3339 timestamp into unix milliseconds. The common
// "2006-01-02T15:04:05(.fff)Z" shape takes a fast path; anything else goes through time.Parse.
func parseRFC3339Millis(b []byte) (int64, bool) {
	if ms, ok := fastRFC3339UTC(b); ok {
		return ms, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

func fastRFC3339UTC(b []byte) (int64, bool) {
	// YYYY-MM-DDTHH:MM:SS[.frac]Z
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') ||
		b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	num := func(p []byte) (int, bool) {
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	ms := 0
	rest := b[19 : len(b)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, false
		}
		frac, ok := num(rest[1:])
		if !ok {
			return 0, false
		}
		for i := len(rest) - 1; i < 3; i++ {
			frac *= 10
		}
		for i := len(rest) - 1; i > 3; i-- {
			frac /= 10
		}
		ms = frac
	}
	days := daysSinceEpoch(year, month, day)
	return ((days*24+int64(hour))*60+int64(minute))*60000 + int64(sec)*1000 + int64(ms), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch is the civil-from-days inverse (Howard Hinnant's days_from_civil).
func daysSinceEpoch(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
