package event

// Reason says why an event was rejected or dropped. Reasons are stable snake_case strings:
// they are the `reason` label of the dropped/rejected counters and appear in API responses.
type Reason string

// Reasons for rejecting an event at validation (the client sent something the SPEC forbids).
const (
	ReasonMalformed          Reason = "malformed_json"
	ReasonNotObject          Reason = "not_an_object"
	ReasonMissingEventID     Reason = "missing_event_id"
	ReasonBadEventID         Reason = "bad_event_id"
	ReasonMissingType        Reason = "missing_type"
	ReasonBadType            Reason = "bad_type"
	ReasonMissingStreamID    Reason = "missing_stream_id"
	ReasonBadStreamID        Reason = "bad_stream_id"
	ReasonMissingListenerID  Reason = "missing_listener_id"
	ReasonBadListenerID      Reason = "bad_listener_id"
	ReasonMissingTS          Reason = "missing_ts"
	ReasonBadTS              Reason = "bad_ts"
	ReasonBadSentAt          Reason = "bad_sent_at"
	ReasonMissingPlayedMS    Reason = "missing_played_ms"
	ReasonBadPlayedMS        Reason = "bad_played_ms"
	ReasonBadStalledMS       Reason = "bad_stalled_ms"
	ReasonBadMuted           Reason = "bad_muted"
	ReasonMissingErrorCode   Reason = "missing_error_code"
	ReasonBadErrorCode       Reason = "bad_error_code"
	ReasonMissingDisplayed   Reason = "missing_displayed_count"
	ReasonBadDisplayedCount  Reason = "bad_displayed_count"
	ReasonBadClient          Reason = "bad_client"
	ReasonBadTicket          Reason = "bad_ticket"
	ReasonFieldNotAllowed    Reason = "field_not_allowed_for_type"
	ReasonTooManyEventsInReq Reason = "too_many_events_in_request"
	// ReasonBadChars: an id, error_code or client string holds a character that must never be
	// stored or shown (see checkText); the message names the field.
	ReasonBadChars Reason = "bad_chars"
	// ReasonNotNFC: stream_id, listener_id or error_code is not in Unicode NFC. The same text in
	// NFC and NFD is two byte strings, so two streams, listeners or codes that look alike in
	// every report. The collector rejects rather than normalises: a normalised id would no
	// longer be the id the client (and every other system it reports to) holds, so a lookup by
	// the client's id would find nothing, and the client would never learn; a rejection tells it
	// to normalise (String.normalize in JavaScript, java.text.Normalizer, Swift and Python have
	// NFC built in). event_id is exempt: it is only hashed to recognise retried copies, which
	// carry the same bytes, and normalising it would make two byte-different ids one and drop an
	// event as a copy. The client strings are free text, counted but never an identity.
	ReasonNotNFC Reason = "not_nfc"
)

// Reasons for rejecting an event whose time the collector cannot use (docs/time.md).
const (
	// ReasonTSInFuture: ts is more than max_skew after the collector's clock (or, with sent_at,
	// after sent_at).
	ReasonTSInFuture Reason = "ts_in_future"
	// ReasonTSTooOld: with sent_at, the corrected event time is older than max_event_age.
	ReasonTSTooOld Reason = "ts_too_old"
)

// Size limits from the SPEC's event table.
const (
	MaxEventIDLen    = 64
	MaxStreamIDLen   = 128
	MaxListenerIDLen = 128
	MaxErrorCodeLen  = 64
	MaxClientField   = 64
	// MaxTicketLen leaves room for ticket formats after version 1 (32 bytes, internal/ticket).
	MaxTicketLen = 256
	// MaxIntervalMS bounds played_ms and stalled_ms of one heartbeat. Clients beat every 10 s;
	// 10 minutes leaves room for a backgrounded app catching up, and anything larger is not a
	// measurement but a broken or forged client.
	MaxIntervalMS = 10 * 60 * 1000
)

// Message is the human-readable explanation of r, for API responses.
func (r Reason) Message() string {
	switch r {
	case ReasonMalformed:
		return "malformed JSON"
	case ReasonNotObject:
		return "an event must be a JSON object"
	case ReasonMissingEventID:
		return "event_id is required"
	case ReasonBadEventID:
		return "event_id must be a non-empty string of at most 64 bytes"
	case ReasonMissingType:
		return "type is required"
	case ReasonBadType:
		return "type must be one of join, leave, heartbeat, play, error, displayed, end"
	case ReasonMissingStreamID:
		return "stream_id is required"
	case ReasonBadStreamID:
		return "stream_id must be a non-empty string of at most 128 bytes"
	case ReasonMissingListenerID:
		return "listener_id is required (except for displayed and end events)"
	case ReasonBadListenerID:
		return "listener_id must be a non-empty string of at most 128 bytes"
	case ReasonMissingTS:
		return "ts is required"
	case ReasonBadTS:
		return "ts must be an RFC 3339 string or unix milliseconds"
	case ReasonBadSentAt:
		return "sent_at must be an RFC 3339 string or unix milliseconds"
	case ReasonMissingPlayedMS:
		return "played_ms is required on heartbeat"
	case ReasonBadPlayedMS:
		return "played_ms must be an integer from 0 to 600000"
	case ReasonBadStalledMS:
		return "stalled_ms must be an integer from 0 to 600000"
	case ReasonBadMuted:
		return "muted must be a boolean"
	case ReasonMissingErrorCode:
		return "error_code is required on error"
	case ReasonBadErrorCode:
		return "error_code must be a non-empty string of at most 64 bytes"
	case ReasonMissingDisplayed:
		return "displayed_count is required on displayed"
	case ReasonBadDisplayedCount:
		return "displayed_count must be a non-negative integer"
	case ReasonBadClient:
		return "client must be an object of strings app, version, platform (at most 64 bytes each)"
	case ReasonFieldNotAllowed:
		return "played_ms and stalled_ms belong to heartbeat, error_code to error, displayed_count to displayed; displayed takes no ticket"
	case ReasonBadTicket:
		return "ticket must be a non-empty string of at most 256 bytes"
	case ReasonTooManyEventsInReq:
		return "more events in one request than the collector accepts (limits.max_events_per_request): this one and every later one are rejected, and only this one is listed"
	case ReasonBadChars:
		return "ids, error_code and client strings must be valid UTF-8 without control characters, Unicode format characters (bidi controls, zero-width characters, BOM), line separators or U+FFFD"
	case ReasonNotNFC:
		return "stream_id, listener_id and error_code must be in Unicode NFC"
	case ReasonTSInFuture:
		return "ts is in the future: later than the collector's clock (or sent_at) plus limits.max_skew"
	case ReasonTSTooOld:
		return "the event is older than limits.max_event_age (its ts corrected by sent_at)"
	}
	return string(r)
}

// MessageFor is the message of r about the named field (as ValidateField names it): the
// reasons shared by several fields say which one; the others have their own message.
func (r Reason) MessageFor(field string) string {
	switch {
	case field == "":
	case r == ReasonBadChars:
		return field + " must be valid UTF-8 without control characters, Unicode format characters (bidi controls, zero-width characters, BOM), line separators or U+FFFD"
	case r == ReasonNotNFC:
		return field + " must be in Unicode NFC (normalise it before sending)"
	}
	return r.Message()
}

// Validate checks a parsed event against the SPEC's rules for its type and returns the first
// violation in the order of the SPEC table, or "" when e is valid. Values of the wrong JSON
// kind were already reported by ParseBody.
func Validate(e *Event) Reason {
	r, _ := ValidateField(e)
	return r
}

// ValidateField is Validate that also names the field of the violation, as in JSON ("client.app"
// for a client string), for MessageFor; the field is "" when the violation is not about one.
func ValidateField(e *Event) (Reason, string) {
	switch {
	case e.EventID == nil:
		return ReasonMissingEventID, "event_id"
	case len(e.EventID) == 0 || len(e.EventID) > MaxEventIDLen:
		return ReasonBadEventID, "event_id"
	case checkText(e.EventID, false) != "":
		return ReasonBadChars, "event_id"
	case e.TypeName == nil:
		return ReasonMissingType, "type"
	case !e.Type.Client():
		return ReasonBadType, "type"
	case e.StreamID == nil:
		return ReasonMissingStreamID, "stream_id"
	case len(e.StreamID) == 0 || len(e.StreamID) > MaxStreamIDLen:
		return ReasonBadStreamID, "stream_id"
	}
	if r := checkText(e.StreamID, true); r != "" {
		return r, "stream_id"
	}
	switch {
	case e.Type != TypeDisplayed && e.Type != TypeEnd && e.ListenerID == nil:
		return ReasonMissingListenerID, "listener_id"
	case e.ListenerID != nil && (len(e.ListenerID) == 0 || len(e.ListenerID) > MaxListenerIDLen):
		return ReasonBadListenerID, "listener_id"
	}
	if r := checkText(e.ListenerID, true); r != "" {
		return r, "listener_id"
	}
	if !e.HasTS {
		return ReasonMissingTS, "ts"
	}
	switch e.Type {
	case TypeHeartbeat:
		switch {
		case !e.HasPlayed:
			return ReasonMissingPlayedMS, "played_ms"
		case e.PlayedMS > MaxIntervalMS:
			return ReasonBadPlayedMS, "played_ms"
		case e.StalledMS > MaxIntervalMS:
			return ReasonBadStalledMS, "stalled_ms"
		}
	case TypeError:
		switch {
		case e.ErrorCode == nil:
			return ReasonMissingErrorCode, "error_code"
		case len(e.ErrorCode) == 0 || len(e.ErrorCode) > MaxErrorCodeLen:
			return ReasonBadErrorCode, "error_code"
		}
		if r := checkText(e.ErrorCode, true); r != "" {
			return r, "error_code"
		}
	case TypeDisplayed:
		if !e.HasDisplayed {
			return ReasonMissingDisplayed, "displayed_count"
		}
	}
	if (e.Type != TypeHeartbeat && (e.HasPlayed || e.HasStalled)) ||
		(e.Type != TypeError && e.ErrorCode != nil) ||
		(e.Type != TypeDisplayed && e.HasDisplayed) {
		return ReasonFieldNotAllowed, ""
	}
	// A ticket vouches for a listener, and a displayed event has none. Whether the ticket is
	// genuine is for the collector to say (it holds the key).
	if e.Ticket != nil {
		switch {
		case e.Type == TypeDisplayed:
			return ReasonFieldNotAllowed, "ticket"
		case len(e.Ticket) == 0 || len(e.Ticket) > MaxTicketLen:
			return ReasonBadTicket, "ticket"
		}
	}
	if e.HasClient {
		if r := clientText(e.Client.App); r != "" {
			return r, "client.app"
		}
		if r := clientText(e.Client.Version); r != "" {
			return r, "client.version"
		}
		if r := clientText(e.Client.Platform); r != "" {
			return r, "client.platform"
		}
	}
	return "", ""
}

// clientText checks one of the client strings: free text, so not held to NFC.
func clientText(v []byte) Reason {
	if len(v) > MaxClientField {
		return ReasonBadClient
	}
	return checkText(v, false)
}
