package collector

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/earshot/earshot/internal/config"
	"github.com/earshot/earshot/internal/ticket"
	"github.com/earshot/earshot/pkg/event"
)

// Listener tickets (docs/operations.md, "Listener tickets"): an ingest token shipped in a web
// player is public, so by itself it lets anyone post as any listener id. A ticket, signed by the
// platform's backend for one listener and one stream, proves the platform vouches for the id.

// AuthMode says what the collector asks of a listener's ticket (config listener_auth).
type AuthMode string

// Listener authentication modes.
const (
	// AuthOff: tickets are not checked, and no event is marked authenticated.
	AuthOff AuthMode = "off"
	// AuthOptional: an event with a valid ticket is marked authenticated (record flag
	// FlagAuthenticated), one without a ticket is accepted unmarked, and one with a ticket that
	// does not verify is rejected: a player that sends a ticket expects it to count.
	AuthOptional AuthMode = "optional"
	// AuthSigned: every event of a listener needs a valid ticket. Displayed and end events have
	// no listener and need none.
	AuthSigned AuthMode = "signed"
)

func (m AuthMode) valid() bool { return m == AuthOff || m == AuthOptional || m == AuthSigned }

// TicketKeys are the keys tickets are signed with (config ticket). The platform's backend
// holds them too; rotate them as docs/operations.md describes. Like a token, each comes from
// the config or, when the *_env key names a variable, from the environment.
type TicketKeys struct {
	// Key is the current key, at least 32 bytes (EARSHOT_TICKET_KEY, or name another variable
	// in KeyEnv).
	Key    config.Secret `mapstructure:"key"`
	KeyEnv string        `mapstructure:"key_env"`
	// PreviousKey is still accepted during a rotation, until every ticket signed with it has
	// expired.
	PreviousKey    config.Secret `mapstructure:"previous_key"`
	PreviousKeyEnv string        `mapstructure:"previous_key_env"`
}

func (k TicketKeys) current() string  { return fromEnv(k.Key, k.KeyEnv) }
func (k TicketKeys) previous() string { return fromEnv(k.PreviousKey, k.PreviousKeyEnv) }

func fromEnv(s config.Secret, env string) string {
	if env != "" {
		return os.Getenv(env)
	}
	return s.Value()
}

// Messages for rejected tickets; constants, so a rejection allocates nothing.
const (
	msgTicketRequired  = "a ticket is required: listener_auth is signed for this token"
	msgTicketExpired   = "ticket expired: the platform must issue a new one"
	msgTicketSignature = "bad ticket signature: not signed for this stream and listener with a current key (forged, altered or for someone else)"
	msgTicketMalformed = "malformed ticket: a version-1 ticket is 32 base64url characters"
)

// validateListenerAuth checks listener_auth, the tokens' overrides and the ticket keys. It is
// part of Config.Validate.
func (c Config) validateListenerAuth() error {
	if !c.ListenerAuth.valid() {
		return fmt.Errorf("listener_auth must be off, optional or signed, not %q", c.ListenerAuth)
	}
	used := c.ListenerAuth != AuthOff
	for i, t := range c.Tokens {
		if t.ListenerAuth != "" && !t.ListenerAuth.valid() {
			return fmt.Errorf("tokens[%d] (%s): listener_auth must be off, optional, signed or empty (as listener_auth), not %q", i, t.Name, t.ListenerAuth)
		}
		used = used || (t.ListenerAuth != "" && t.ListenerAuth != AuthOff)
	}
	k := c.Ticket
	cur, prev := k.current(), k.previous()
	for _, x := range []struct{ name, env, v string }{{"ticket.key", k.KeyEnv, cur}, {"ticket.previous_key", k.PreviousKeyEnv, prev}} {
		switch {
		case x.env != "" && x.v == "":
			return fmt.Errorf("%s_env: the variable %s is empty or unset", x.name, x.env)
		case x.v != "" && len(x.v) < ticket.MinKeyLen:
			return fmt.Errorf("%s must be at least %d bytes", x.name, ticket.MinKeyLen)
		// The platform holds the ticket key. If it were a hashing key too, the platform could
		// compute the listener key of every id it knows and re-identify the records.
		case x.v != "" && (x.v == c.Hash.Key.Value() || x.v == c.Hash.PreviousKey.Value()):
			return fmt.Errorf("%s must differ from hash.key and hash.previous_key: the platform holds it", x.name)
		}
	}
	switch {
	case used && cur == "":
		return errors.New("ticket.key (or ticket.key_env) is required when listener_auth is optional or signed, for the config or a token")
	case prev != "" && cur == "":
		return errors.New("ticket.previous_key needs ticket.key")
	case prev != "" && prev == cur:
		return errors.New("ticket.previous_key must differ from ticket.key")
	}
	return nil
}

// listenerAuth checks events' tickets for the Pipeline.
type listenerAuth struct {
	mode     AuthMode
	verifier *ticket.Verifier // nil without ticket.key; then every mode in use is off
}

func newListenerAuth(cfg Config) (listenerAuth, error) {
	if err := cfg.validateListenerAuth(); err != nil {
		return listenerAuth{}, err
	}
	a := listenerAuth{mode: cfg.ListenerAuth}
	if cur := cfg.Ticket.current(); cur != "" {
		v, err := ticket.NewVerifier([]byte(cur), []byte(cfg.Ticket.previous()))
		if err != nil {
			return listenerAuth{}, err
		}
		a.verifier = v
	}
	return a, nil
}

// check judges the ticket of a valid event sent with a token whose listener_auth is override
// ("" follows the config), received at now. It returns the record flags to add, or the reason
// to reject the event and the message that says why.
func (a *listenerAuth) check(e *event.Event, override AuthMode, now time.Time) (flags uint8, r event.Reason, msg string) {
	mode := a.mode
	if override != "" {
		mode = override
	}
	// A ticket on an end event is ignored, like a listener_id there: an end has no listener.
	if mode == AuthOff || e.Type == event.TypeDisplayed || e.Type == event.TypeEnd {
		return 0, "", ""
	}
	if e.Ticket == nil {
		if mode == AuthSigned {
			return 0, ReasonTicketRequired, msgTicketRequired
		}
		return 0, "", ""
	}
	switch err := a.verifier.Verify(e.Ticket, e.StreamID, e.ListenerID, now); {
	case err == nil:
		return event.FlagAuthenticated, "", ""
	case errors.Is(err, ticket.ErrExpired):
		return 0, ReasonBadTicket, msgTicketExpired
	case errors.Is(err, ticket.ErrMalformed):
		return 0, ReasonBadTicket, msgTicketMalformed
	}
	return 0, ReasonBadTicket, msgTicketSignature
}

// rejectTicket rejects event i for its ticket: a client error, with a message of its own.
func (b *Batch) rejectTicket(i int, r event.Reason, msg string) {
	b.Invalid++
	b.list(i, r, msg)
}
