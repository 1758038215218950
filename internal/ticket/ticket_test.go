package ticket

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	key     = []byte("earshot-test-ticket-key-0123456789abcdef")
	prevKey = []byte("earshot-previous-ticket-key-0123456789ab")
	expiry  = time.Unix(1723593600, 0) // 2024-08-14T00:00:00Z
	before  = expiry.Add(-time.Hour)
)

// knownTicket was computed outside Go, so that Sign is checked against the format as written
// and not against itself:
//
//	printf 'earshot-ticket-v1\x00space-1\x00u1\x00\x00\x00\x00\x00\x66\xbb\xf3\x80' |
//	  openssl dgst -sha256 -mac HMAC -macopt key:earshot-test-ticket-key-0123456789abcdef
//	→ eb325e19f56c01ce61fd600ab45984c0d62911ea63ff681afdcf84791f4d6309
//
// and base64url(00000000 66bbf380 || the first 16 bytes of that), no padding (Python's hmac and
// base64 modules give the same).
const knownTicket = "AAAAAGa784DrMl4Z9WwBzmH9YAq0WYTA"

func TestSignKnownAnswer(t *testing.T) {
	got, err := Sign(key, []byte("space-1"), []byte("u1"), expiry)
	if err != nil {
		t.Fatal(err)
	}
	if got != knownTicket {
		t.Fatalf("Sign = %s, want %s", got, knownTicket)
	}
	if len(got) != Len {
		t.Fatalf("length %d, want %d", len(got), Len)
	}
	// Sub-second parts of the expiry are dropped, not rounded up.
	if got, _ := Sign(key, []byte("space-1"), []byte("u1"), expiry.Add(999*time.Millisecond)); got != knownTicket {
		t.Fatalf("expiry + 999 ms: %s", got)
	}
	if err := Verify(key, []byte(knownTicket), []byte("space-1"), []byte("u1"), before); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	v, err := NewVerifier(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	tk := []byte(knownTicket)
	// flip returns tk with the bits of mask flipped in byte i of the decoded ticket.
	flip := func(i int, mask byte) []byte {
		raw, _ := base64.RawURLEncoding.DecodeString(knownTicket)
		raw[i] ^= mask
		return []byte(base64.RawURLEncoding.EncodeToString(raw))
	}
	cases := []struct {
		name             string
		ticket           []byte
		stream, listener string
		now              time.Time
		want             error
	}{
		{"valid", tk, "space-1", "u1", before, nil},
		{"one second before expiry", tk, "space-1", "u1", expiry.Add(-time.Second), nil},
		{"last nanosecond before expiry", tk, "space-1", "u1", expiry.Add(-time.Nanosecond), nil},
		{"at expiry", tk, "space-1", "u1", expiry, ErrExpired},
		{"after expiry", tk, "space-1", "u1", expiry.Add(time.Hour), ErrExpired},
		{"another stream", tk, "space-2", "u1", before, ErrBadSignature},
		{"another listener", tk, "space-1", "u2", before, ErrBadSignature},
		{"listener as a prefix", tk, "space-1", "u", before, ErrBadSignature},
		{"ids shifted across the separator", tk, "space-1\x00u1", "x", before, ErrBadSignature},
		{"empty listener", tk, "space-1", "", before, ErrBadSignature},
		{"tag altered", flip(23, 1), "space-1", "u1", before, ErrBadSignature},
		{"tag's first byte altered", flip(8, 0x80), "space-1", "u1", before, ErrBadSignature},
		// A forged later expiry breaks the signature; it is not reported as expired either.
		{"expiry extended", flip(7, 0x10), "space-1", "u1", before, ErrBadSignature},
		{"expired and altered", flip(23, 1), "space-1", "u1", expiry.Add(time.Hour), ErrBadSignature},
		{"truncated", tk[:Len-1], "space-1", "u1", before, ErrMalformed},
		{"truncated to the expiry", tk[:11], "space-1", "u1", before, ErrMalformed},
		{"empty", nil, "space-1", "u1", before, ErrMalformed},
		{"padded", []byte(knownTicket + "=="), "space-1", "u1", before, ErrMalformed},
		{"standard alphabet", []byte(knownTicket[:Len-1] + "+"), "space-1", "u1", before, ErrMalformed},
		{"newline inside", []byte(knownTicket[:10] + "\n" + knownTicket[11:]), "space-1", "u1", before, ErrMalformed},
		{"not base64", []byte(strings.Repeat("*", Len)), "space-1", "u1", before, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := v.Verify(c.ticket, []byte(c.stream), []byte(c.listener), c.now)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	old, err := Sign(prevKey, []byte("s"), []byte("u"), expiry)
	if err != nil {
		t.Fatal(err)
	}
	current, _ := Sign(key, []byte("s"), []byte("u"), expiry)
	rotating, err := NewVerifier(key, prevKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{old, current} {
		if err := rotating.Verify([]byte(tk), []byte("s"), []byte("u"), before); err != nil {
			t.Fatalf("during rotation: %v", err)
		}
	}
	if err := rotating.Verify([]byte(old), []byte("s"), []byte("u"), expiry); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired ticket of the previous key: %v", err)
	}
	done, _ := NewVerifier(key, nil)
	if err := done.Verify([]byte(old), []byte("s"), []byte("u"), before); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("previous key after the rotation: %v", err)
	}
}

func TestKeysAndIDs(t *testing.T) {
	short := []byte(strings.Repeat("k", MinKeyLen-1))
	if _, err := Sign(short, []byte("s"), []byte("u"), expiry); err == nil {
		t.Fatal("Sign accepted a short key")
	}
	if _, err := NewVerifier(key, short); err == nil {
		t.Fatal("NewVerifier accepted a short previous key")
	}
	if _, err := NewVerifier(nil, nil); err == nil {
		t.Fatal("NewVerifier accepted no key")
	}
	for _, ids := range [][2]string{{"", "u"}, {"s", ""}, {"s\x00t", "u"}, {"s", "u\x00"}} {
		if _, err := Sign(key, []byte(ids[0]), []byte(ids[1]), expiry); !errors.Is(err, ErrBadID) {
			t.Fatalf("Sign(%q, %q): %v", ids[0], ids[1], err)
		}
	}
}

func TestVerifyDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool items at random: allocation counts mean nothing")
	}
	v, _ := NewVerifier(key, prevKey)
	tk, stream, listener := []byte(knownTicket), []byte("space-1"), []byte("u1")
	v.Verify(tk, stream, listener, before) // fill the pool
	if n := testing.AllocsPerRun(100, func() { v.Verify(tk, stream, listener, before) }); n != 0 {
		t.Fatalf("%v allocations per Verify", n)
	}
}

func BenchmarkVerify(b *testing.B) {
	v, _ := NewVerifier(key, nil)
	tk, stream, listener := []byte(knownTicket), []byte("space-1"), []byte("u1")
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(tk, stream, listener, before); err != nil {
			b.Fatal(err)
		}
	}
}
