// Package pseudo turns listener ids into pseudonymous 64-bit listener keys with a keyed hash,
// so that raw ids never leave the collector.
//
// The key is HMAC-SHA256(secret, listener_id) truncated to 64 bits: without the secret the
// key cannot be linked back to an id, and 64 bits make collisions negligible at 60M listeners
// (expected colliding pairs n²/2⁶⁵ ≈ 1e-4). The output is uniform, so the aggregator uses it
// directly as the HyperLogLog hash and the collector as the partitioning key.
//
// Rotation: a deployment configures the current key and, during a rotation, the previous key
// with the instant the switch happens (PreviousUntil). Until then every collector still hashes
// with the previous key, so a rollout of the new secret across collectors does not split one
// listener into two identities; at PreviousUntil all collectors switch together. Schedule it
// between streams: a listener whose session spans the switch is counted once per key.
package pseudo

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"
)

// MinSecretLen is the shortest accepted secret: 32 bytes, the HMAC-SHA256 block strength.
const MinSecretLen = 32

// Key is one hashing secret with its id (recorded with every event it hashed).
type Key struct {
	ID     uint8
	Secret []byte
}

// Hasher computes listener keys. It is safe for concurrent use.
type Hasher struct {
	current, previous keyState
	previousUntil     int64 // unix ms; 0 = no previous key
}

type keyState struct {
	id   uint8
	pool *sync.Pool
}

func newKeyState(k Key) keyState {
	secret := append([]byte(nil), k.Secret...)
	return keyState{id: k.ID, pool: &sync.Pool{New: func() any { return &mac{h: hmac.New(sha256.New, secret)} }}}
}

// mac is a pooled HMAC with its output buffer, so hashing does not allocate.
type mac struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// New returns a Hasher. previous may be nil; with it, previousUntil says when current takes over.
func New(current Key, previous *Key, previousUntil time.Time) (*Hasher, error) {
	if len(current.Secret) < MinSecretLen {
		return nil, fmt.Errorf("hashing key %d: secret must be at least %d bytes, got %d", current.ID, MinSecretLen, len(current.Secret))
	}
	h := &Hasher{current: newKeyState(current)}
	if previous != nil {
		if len(previous.Secret) < MinSecretLen {
			return nil, fmt.Errorf("previous hashing key %d: secret must be at least %d bytes", previous.ID, MinSecretLen)
		}
		if previous.ID == current.ID {
			return nil, errors.New("previous and current hashing keys must have different ids")
		}
		h.previous = newKeyState(*previous)
		h.previousUntil = previousUntil.UnixMilli()
	}
	return h, nil
}

// Hash returns the id of the key in force at nowMillis and the listener key of id.
func (h *Hasher) Hash(id []byte, nowMillis int64) (keyID uint8, listener uint64) {
	ks := &h.current
	if h.previous.pool != nil && nowMillis < h.previousUntil {
		ks = &h.previous
	}
	m := ks.pool.Get().(*mac)
	m.h.Reset()
	m.h.Write(id)
	listener = binary.LittleEndian.Uint64(m.h.Sum(m.sum[:0]))
	ks.pool.Put(m)
	return ks.id, listener
}
