// Package event defines earshot's client events: the JSON the collector accepts, the rules
// that validate it (SPEC, "Events"), and the compact binary record that travels on Kafka from
// collector to aggregator (docs/record.md).
package event

import "fmt"

// Type is the kind of a client event.
type Type uint8

// Event types. The numbers are part of the Kafka record format: never renumber.
const (
	TypeJoin      Type = 1
	TypeLeave     Type = 2
	TypeHeartbeat Type = 3
	TypePlay      Type = 4
	TypeError     Type = 5
	TypeDisplayed Type = 6
	// TypeEnd closes a stream: its figures become final at once (SPEC, "Time, late events and
	// duplicates": a trusted replay ends by an explicit close). Clients send it as JSON; the
	// collector writes it to every partition.
	TypeEnd Type = 7
	// TypeTick is not a client event: every collector writes one to every partition each second
	// with its clock, so aggregators know how far ingest has come (docs/time.md).
	TypeTick Type = 8
)

var typeNames = [...]string{TypeJoin: "join", TypeLeave: "leave", TypeHeartbeat: "heartbeat",
	TypePlay: "play", TypeError: "error", TypeDisplayed: "displayed", TypeEnd: "end", TypeTick: "tick"}

// String returns the name of t.
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t is one of the defined record types.
func (t Type) Valid() bool { return t >= TypeJoin && t <= TypeTick }

// Client reports whether t is a type clients may send as JSON (every type but tick).
func (t Type) Client() bool { return t >= TypeJoin && t <= TypeEnd }

// Control reports whether t is a stream- or partition-level record (end, tick) rather than an
// event of a listener or of the platform.
func (t Type) Control() bool { return t == TypeEnd || t == TypeTick }

// ParseType maps a JSON type name to its Type; ok is false for unknown names and for tick,
// which clients cannot send.
func ParseType(b []byte) (Type, bool) {
	for t := TypeJoin; t <= TypeEnd; t++ {
		if string(b) == typeNames[t] {
			return t, true
		}
	}
	return 0, false
}

// Client describes the player that sent an event. Fields alias the request body.
type Client struct {
	App, Version, Platform []byte
}

// Event is one client event as parsed from JSON. Byte-slice fields alias the request body and
// are valid only while it is; the collector turns an Event into a Record before the body goes.
// The Has fields say whether an optional field was present at all.
type Event struct {
	EventID    []byte
	Type       Type
	TypeName   []byte // the raw "type" value, kept for error messages
	StreamID   []byte
	ListenerID []byte
	// TSMillis is the client's event time in unix milliseconds.
	TSMillis int64
	// SentAtMillis is the client's clock when it sent the request (the optional sent_at), in
	// unix milliseconds: with ts it tells the client clock's offset (docs/time.md).
	SentAtMillis int64
	// PlayedMS and StalledMS are heartbeat fields, in milliseconds.
	PlayedMS, StalledMS int64
	Muted               bool
	ErrorCode           []byte
	DisplayedCount      int64
	Client              Client
	// Ticket is the listener's signed ticket (internal/ticket), nil when absent. The collector
	// checks it and never forwards it.
	Ticket []byte

	HasTS, HasSentAt, HasPlayed, HasStalled, HasMuted, HasDisplayed, HasClient bool
}
