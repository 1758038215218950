package config

import (
	"fmt"
	"log/slog"
)

// Secret is a config value that must never be shown: a key or a password. It prints as
// "<secret>" with fmt (every verb, also inside a struct printed with %+v), log/slog and
// encoding/json, so a config that is logged or printed whole leaks none of it; Value returns
// the secret. An empty Secret prints as "", so that a printed config still says whether it is
// set. Config files and EARSHOT_* variables decode into it like into a string.
type Secret string

const redacted = "<secret>"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String returns "<secret>", or "" when s is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format makes every fmt verb print String: without it, a verb a string does not take (%d)
// would print the value raw inside its error text.
func (s Secret) Format(f fmt.State, _ rune) { f.Write([]byte(s.String())) }

// LogValue hides s from log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText hides s from encoding/json, YAML and slog's handlers.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
