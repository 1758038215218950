// Package ticket signs and verifies listener tickets: a platform's backend, which knows who a
// listener is, gives its player a ticket binding one listener id to one stream until an expiry,
// and the collector accepts events of that listener only with it (docs/operations.md, "Listener
// tickets"). An ingest token in a web player is public; a ticket is what stops its holder from
// posting as any listener.
//
// Format, version 1: a ticket is the unpadded base64url encoding (RFC 4648 §5) of 24 bytes,
//
//	expiry (unix seconds, 8 bytes big-endian) || HMAC-SHA256(key, message)[:16]
//	message = "earshot-ticket-v1" 0x00 stream_id 0x00 listener_id 0x00 expiry (the same 8 bytes)
//
// so always 32 characters. The version lives in the signed label and in the length: a later
// format gets another label and another length, and cannot be mistaken for this one. Ids
// containing 0x00 cannot be ticketed, which keeps the message unambiguous. A ticket is valid
// while the verifier's clock is before its expiry. The tag is 128 bits, as many as forgery
// needs to be hopeless; the expiry is in the clear but signed.
package ticket

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"
)

// Label starts every signed message; it names the format version.
const Label = "earshot-ticket-v1\x00"

// Len is the length of an encoded ticket.
const Len = 32

// MinKeyLen is the shortest accepted key: 32 bytes, the strength of HMAC-SHA256.
const MinKeyLen = 32

const (
	expiryLen = 8
	tagLen    = 16
	rawLen    = expiryLen + tagLen
)

// Errors of Verify; callers branch on them (the collector tells a client which it was).
var (
	// ErrMalformed: not a version-1 ticket at all (length or alphabet).
	ErrMalformed = errors.New("malformed ticket")
	// ErrBadSignature: a well-formed ticket that no key signed for this stream and listener
	// (forged, altered, or issued for another listener or stream).
	ErrBadSignature = errors.New("ticket signature does not match the stream and listener")
	// ErrExpired: a genuine ticket past its expiry. Checked after the signature, so it is
	// only ever said of tickets the platform really issued.
	ErrExpired = errors.New("ticket expired")
)

// ErrBadID is returned by Sign for an empty id or one containing 0x00.
var ErrBadID = errors.New("stream and listener ids must be non-empty and contain no 0x00 byte")

// Sign returns the ticket for listener on stream, valid until expiry (to the second, rounded
// down). key must be at least MinKeyLen bytes.
func Sign(key, stream, listener []byte, expiry time.Time) (string, error) {
	if len(key) < MinKeyLen {
		return "", fmt.Errorf("ticket key must be at least %d bytes, got %d", MinKeyLen, len(key))
	}
	if !validID(stream) || !validID(listener) {
		return "", ErrBadID
	}
	var raw [rawLen]byte
	binary.BigEndian.PutUint64(raw[:expiryLen], uint64(expiry.Unix()))
	h := hmac.New(sha256.New, key)
	writeMessage(h, stream, listener, raw[:expiryLen])
	copy(raw[expiryLen:], h.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

// Verify checks ticket against one key, like Verifier.Verify; a Verifier is faster when there
// are many tickets to check.
func Verify(key, ticket, stream, listener []byte, now time.Time) error {
	v, err := NewVerifier(key, nil)
	if err != nil {
		return err
	}
	return v.Verify(ticket, stream, listener, now)
}

// Verifier checks tickets against the current key and, during a rotation, the previous one.
// It is safe for concurrent use and reuses its HMAC states, so a check allocates nothing.
type Verifier struct {
	pool sync.Pool // *state
}

// state is one goroutine's scratch: an HMAC per key (current first) and the buffers, kept in the
// pool so that nothing escapes to the heap per check.
type state struct {
	macs []hash.Hash
	raw  [rawLen]byte
	sum  [sha256.Size]byte
}

// NewVerifier returns a Verifier for current and, if not empty, previous: a ticket signed by
// either is accepted, so a platform can move to a new key while tickets signed with the old
// one are still out.
func NewVerifier(current, previous []byte) (*Verifier, error) {
	keys := [][]byte{bytes.Clone(current)}
	if len(previous) > 0 {
		keys = append(keys, bytes.Clone(previous))
	}
	for _, k := range keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("ticket key must be at least %d bytes, got %d", MinKeyLen, len(k))
		}
	}
	v := &Verifier{}
	v.pool.New = func() any {
		s := &state{}
		for _, k := range keys {
			s.macs = append(s.macs, hmac.New(sha256.New, k))
		}
		return s
	}
	return v, nil
}

// Verify returns nil if ticket was signed by the current or the previous key for stream and
// listener and has not expired at now; otherwise ErrMalformed, ErrBadSignature or ErrExpired.
func (v *Verifier) Verify(ticket, stream, listener []byte, now time.Time) error {
	if len(ticket) != Len {
		return ErrMalformed
	}
	s := v.pool.Get().(*state)
	defer v.pool.Put(s)
	// base64 skips \r and \n, so a ticket containing them decodes to fewer bytes.
	if n, err := base64.RawURLEncoding.Decode(s.raw[:], ticket); err != nil || n != rawLen {
		return ErrMalformed
	}
	if !validID(stream) || !validID(listener) {
		return ErrBadSignature // no ticket can be issued for such ids
	}
	expiry := s.raw[:expiryLen]
	for _, h := range s.macs {
		h.Reset()
		writeMessage(h, stream, listener, expiry)
		// hmac.Equal is constant-time: timing tells nothing about how much of a forged tag matched.
		if hmac.Equal(h.Sum(s.sum[:0])[:tagLen], s.raw[expiryLen:]) {
			if now.Unix() >= int64(binary.BigEndian.Uint64(expiry)) {
				return ErrExpired
			}
			return nil
		}
	}
	return ErrBadSignature
}

var (
	label = []byte(Label)
	nul   = []byte{0}
)

// writeMessage writes the signed message of the package comment. Hash writes never fail.
func writeMessage(h hash.Hash, stream, listener, expiry []byte) {
	h.Write(label)
	h.Write(stream)
	h.Write(nul)
	h.Write(listener)
	h.Write(nul)
	h.Write(expiry)
}

func validID(b []byte) bool { return len(b) > 0 && bytes.IndexByte(b, 0) < 0 }
