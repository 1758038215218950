// Package logging sets up the process-wide slog logger the same way in every binary.
package logging

import (
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// New returns a logger writing to stderr: text for terminals, JSON when format is "json".
// level is debug, info, warn or error.
func New(level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if format == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(h)
}

// Flags registers --log-level and --log-format on fs and returns the constructor of the
// logger they describe (call it after fs.Parse).
func Flags(fs *pflag.FlagSet) func() *slog.Logger {
	level := fs.String("log-level", "info", "debug, info, warn or error")
	format := fs.String("log-format", "text", "text or json")
	return func() *slog.Logger { return New(*level, *format) }
}
