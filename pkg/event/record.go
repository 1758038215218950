package event

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// RecordVersion is the first byte of every record this code writes. Decoders reject versions
// they do not know, so a rolling upgrade deploys new aggregators before new collectors.
const RecordVersion = 1

// Record flags.
const (
	FlagMuted       = 1 << 0 // player muted or volume 0
	FlagTrustedTime = 1 << 1 // event time is the client's own ts, unclamped (trusted token)
	FlagHasPlayed   = 1 << 2 // PlayedMS present
	FlagHasStalled  = 1 << 3 // StalledMS present
	FlagHasClient   = 1 << 4 // client app/version/platform follow
	// FlagTSClamped: neither trusted nor sent_at, and ts was outside [received − max_skew,
	// received], so it was clamped into it.
	FlagTSClamped = 1 << 5
	// FlagClockCorrected: sent_at showed the client clock off by at least clock_tolerance, and the
	// event time is ts plus that offset rounded to whole seconds (docs/time.md).
	FlagClockCorrected = 1 << 6
	// FlagAuthenticated: the event carried a valid ticket for its listener and stream, signed by
	// the platform (internal/ticket), so its listener is a person the platform vouches for and
	// not an id anyone holding the public ingest token could make up. Only events of a listener
	// carry it, never displayed, end or tick records.
	FlagAuthenticated = 1 << 7

	// flagsKnown: every bit is now assigned; another flag needs a new record version.
	flagsKnown = 1<<8 - 1
)

// headerLen is the fixed part of a record; see docs/record.md for the byte layout.
const headerLen = 36

// Record is one validated, pseudonymized event as it travels on Kafka. Byte-slice fields
// alias the buffer it was decoded from.
type Record struct {
	Type  Type
	Flags uint8
	// KeyID names the hashing key that produced Listener (see internal/pseudo): listener keys
	// from different keys are different identities.
	KeyID uint8
	// Listener is the keyed 64-bit hash of listener_id (0 for displayed events). Uniform, so
	// it is also the HyperLogLog hash and the partitioning key.
	Listener uint64
	// Fingerprint is a 64-bit hash of event_id, for duplicate detection.
	Fingerprint uint64
	// EventTime is the event time the collector derived (docs/time.md) and ReceivedAt the
	// collector's clock, both unix ms.
	EventTime, ReceivedAt int64
	PlayedMS, StalledMS   uint32
	StreamID              []byte
	ErrorCode             []byte
	DisplayedCount        uint64
	Client                Client
}

// Muted reports whether the player was muted.
func (r *Record) Muted() bool { return r.Flags&FlagMuted != 0 }

// AppendRecord appends the binary form of r to dst.
func AppendRecord(dst []byte, r *Record) []byte {
	flags := r.Flags &^ (FlagHasPlayed | FlagHasStalled | FlagHasClient)
	if r.Type == TypeHeartbeat {
		flags |= FlagHasPlayed
		if r.StalledMS > 0 {
			flags |= FlagHasStalled
		}
	}
	hasClient := len(r.Client.App)+len(r.Client.Version)+len(r.Client.Platform) > 0
	if hasClient {
		flags |= FlagHasClient
	}
	dst = append(dst, RecordVersion, byte(r.Type), flags, r.KeyID)
	dst = binary.LittleEndian.AppendUint64(dst, r.Listener)
	dst = binary.LittleEndian.AppendUint64(dst, r.Fingerprint)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.EventTime))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.ReceivedAt))
	if flags&FlagHasPlayed != 0 {
		dst = binary.AppendUvarint(dst, uint64(r.PlayedMS))
	}
	if flags&FlagHasStalled != 0 {
		dst = binary.AppendUvarint(dst, uint64(r.StalledMS))
	}
	dst = appendBytes(dst, r.StreamID)
	switch r.Type {
	case TypeError:
		dst = appendBytes(dst, r.ErrorCode)
	case TypeDisplayed:
		dst = binary.AppendUvarint(dst, r.DisplayedCount)
	}
	if hasClient {
		dst = appendBytes(dst, r.Client.App)
		dst = appendBytes(dst, r.Client.Version)
		dst = appendBytes(dst, r.Client.Platform)
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// Decoding errors.
var (
	ErrRecordVersion = errors.New("unknown record version")
	ErrRecordCorrupt = errors.New("corrupt record")
)

// maxRecordString bounds decoded string lengths (the largest field is stream_id, 128 bytes).
const maxRecordString = 256

// DecodeRecord parses b into r. r's byte slices alias b. It never panics on any input
// (FuzzDecodeRecord) and rejects trailing bytes.
func DecodeRecord(b []byte, r *Record) error {
	if len(b) < headerLen {
		if len(b) > 0 && b[0] != RecordVersion {
			return fmt.Errorf("%w %d", ErrRecordVersion, b[0])
		}
		return fmt.Errorf("%w: %d bytes, header needs %d", ErrRecordCorrupt, len(b), headerLen)
	}
	if b[0] != RecordVersion {
		return fmt.Errorf("%w %d", ErrRecordVersion, b[0])
	}
	*r = Record{
		Type:        Type(b[1]),
		Flags:       b[2],
		KeyID:       b[3],
		Listener:    binary.LittleEndian.Uint64(b[4:]),
		Fingerprint: binary.LittleEndian.Uint64(b[12:]),
		EventTime:   int64(binary.LittleEndian.Uint64(b[20:])),
		ReceivedAt:  int64(binary.LittleEndian.Uint64(b[28:])),
	}
	if !r.Type.Valid() {
		return fmt.Errorf("%w: type %d", ErrRecordCorrupt, b[1])
	}
	if r.Flags&^flagsKnown != 0 {
		return fmt.Errorf("%w: unknown flags %#x", ErrRecordCorrupt, r.Flags)
	}
	if heartbeat := r.Type == TypeHeartbeat; heartbeat != (r.Flags&FlagHasPlayed != 0) || (!heartbeat && r.Flags&FlagHasStalled != 0) {
		return fmt.Errorf("%w: played/stalled flags on a %v record", ErrRecordCorrupt, r.Type)
	}
	d := decoder{b: b, i: headerLen}
	if r.Flags&FlagHasPlayed != 0 {
		r.PlayedMS = d.uint32()
	}
	if r.Flags&FlagHasStalled != 0 {
		r.StalledMS = d.uint32()
	}
	r.StreamID = d.bytes()
	switch r.Type {
	case TypeError:
		r.ErrorCode = d.bytes()
	case TypeDisplayed:
		r.DisplayedCount = d.uvarint()
	}
	if r.Flags&FlagHasClient != 0 {
		r.Client.App = d.bytes()
		r.Client.Version = d.bytes()
		r.Client.Platform = d.bytes()
	}
	if d.err != nil {
		return d.err
	}
	if d.i != len(b) {
		return fmt.Errorf("%w: %d trailing bytes", ErrRecordCorrupt, len(b)-d.i)
	}
	return nil
}

type decoder struct {
	b   []byte
	i   int
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		d.err = fmt.Errorf("%w: bad varint at byte %d", ErrRecordCorrupt, d.i)
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) uint32() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 {
		d.err = fmt.Errorf("%w: value %d does not fit 32 bits", ErrRecordCorrupt, v)
	}
	return uint32(v)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > maxRecordString || n > uint64(len(d.b)-d.i) {
		d.err = fmt.Errorf("%w: string of %d bytes at byte %d", ErrRecordCorrupt, n, d.i)
		return nil
	}
	s := d.b[d.i : d.i+int(n) : d.i+int(n)]
	d.i += int(n)
	return s
}

// Fingerprint is the 64-bit hash of an event_id carried in the record for duplicate detection.
func Fingerprint(eventID []byte) uint64 { return xxhash.Sum64(eventID) }
