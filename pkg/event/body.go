package event

import "bytes"

// ParseBody parses a request body holding a JSON array of events or NDJSON (one event per
// line) and calls fn for each event in order with its index and, if it could not be parsed
// into an Event, the reason. fn must not keep e: it is reused.
//
// In an array, a syntax error ends parsing and is returned (the next element cannot be found),
// so the caller must not act on the events it saw before the error. In NDJSON a malformed line
// only rejects that line (ReasonMalformed). Blank lines are not events.
func ParseBody(body []byte, fn func(i int, e *Event, r Reason)) error {
	var e Event
	s := scanner{b: body}
	s.ws()
	if s.i < len(body) && body[s.i] == '[' {
		return parseArray(&s, &e, fn)
	}
	i := 0
	for len(body) > 0 {
		line := body
		if n := bytes.IndexByte(body, '\n'); n >= 0 {
			line, body = body[:n], body[n+1:]
		} else {
			body = nil
		}
		ls := scanner{b: line}
		ls.ws()
		if ls.i == len(line) {
			continue
		}
		e = Event{}
		r, err := ls.object(&e)
		if err == nil {
			ls.ws()
			if ls.i != len(line) {
				err = ls.errorf("trailing data after the event")
			}
		}
		if err != nil {
			r = ReasonMalformed
		}
		fn(i, &e, r)
		i++
	}
	return nil
}

func parseArray(s *scanner, e *Event, fn func(int, *Event, Reason)) error {
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return s.end()
	}
	for i := 0; ; i++ {
		*e = Event{}
		r, err := s.object(e)
		if err != nil {
			return err
		}
		fn(i, e, r)
		s.ws()
		if s.i >= len(s.b) {
			return s.errorf("unexpected end of input")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return s.end()
		default:
			return s.errorf("expected ',' or ']'")
		}
	}
}

func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.b) {
		return s.errorf("trailing data after the array")
	}
	return nil
}
