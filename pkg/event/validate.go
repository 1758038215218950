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
		return "more events in one request than the collector accepts"
	case ReasonTSInFuture:
		return "ts is in the future: later than the collector's clock (or sent_at) plus limits.max_skew"
	case ReasonTSTooOld:
		return "the event is older than limits.max_event_age (its ts corrected by sent_at)"
	}
	return string(r)
}

// Validate checks a parsed event against the SPEC's rules for its type and returns the first
// violation in the order of the SPEC table, or "" when e is valid. Values of the wrong JSON
// kind were already reported by ParseBody.
func Validate(e *Event) Reason {
	switch {
	case e.EventID == nil:
		return ReasonMissingEventID
	case len(e.EventID) == 0 || len(e.EventID) > MaxEventIDLen:
		return ReasonBadEventID
	case e.TypeName == nil:
		return ReasonMissingType
	case !e.Type.Client():
		return ReasonBadType
	case e.StreamID == nil:
		return ReasonMissingStreamID
	case len(e.StreamID) == 0 || len(e.StreamID) > MaxStreamIDLen:
		return ReasonBadStreamID
	case e.Type != TypeDisplayed && e.Type != TypeEnd && e.ListenerID == nil:
		return ReasonMissingListenerID
	case e.ListenerID != nil && (len(e.ListenerID) == 0 || len(e.ListenerID) > MaxListenerIDLen):
		return ReasonBadListenerID
	case !e.HasTS:
		return ReasonMissingTS
	}
	switch e.Type {
	case TypeHeartbeat:
		switch {
		case !e.HasPlayed:
			return ReasonMissingPlayedMS
		case e.PlayedMS > MaxIntervalMS:
			return ReasonBadPlayedMS
		case e.StalledMS > MaxIntervalMS:
			return ReasonBadStalledMS
		}
	case TypeError:
		switch {
		case e.ErrorCode == nil:
			return ReasonMissingErrorCode
		case len(e.ErrorCode) == 0 || len(e.ErrorCode) > MaxErrorCodeLen:
			return ReasonBadErrorCode
		}
	case TypeDisplayed:
		if !e.HasDisplayed {
			return ReasonMissingDisplayed
		}
	}
	if (e.Type != TypeHeartbeat && (e.HasPlayed || e.HasStalled)) ||
		(e.Type != TypeError && e.ErrorCode != nil) ||
		(e.Type != TypeDisplayed && e.HasDisplayed) {
		return ReasonFieldNotAllowed
	}
	if e.HasClient && (len(e.Client.App) > MaxClientField || len(e.Client.Version) > MaxClientField ||
		len(e.Client.Platform) > MaxClientField) {
		return ReasonBadClient
	}
	// A ticket vouches for a listener, and a displayed event has none. Whether the ticket is
	// genuine is for the collector to say (it holds the key).
	if e.Ticket != nil {
		switch {
		case e.Type == TypeDisplayed:
			return ReasonFieldNotAllowed
		case len(e.Ticket) == 0 || len(e.Ticket) > MaxTicketLen:
			return ReasonBadTicket
		}
	}
	return ""
}
