// Package web serves `earshot serve`: a read-only page per stream for journalists, with the
// measured audience drawn as a chart, the totals with their intervals and definitions, and a
// verdict per claim that can be linked to and pasted.
//
// Every figure comes from the stream's result.Result (internal/result), the same object
// `earshot report --format json` prints; the page formats and places numbers, it computes none,
// so the page and the JSON a newsroom scrapes cannot disagree. The page needs no JavaScript:
// the chart is SVG drawn on the server, and a live stream's page refreshes itself with a meta
// refresh.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/earshot/earshot/internal/result"
)

// StreamInfo is one line of the stream list: enough to pick a stream, nothing to quote.
type StreamInfo struct {
	ID string
	// First and Last are the starts of the stream's first and last minutes with data (UTC).
	First, Last time.Time
	// Peak is the stream's largest count of listeners connected at the same second.
	Peak uint64
	// Status is result.StatusFinal when every minute is final, else result.StatusProvisional.
	Status string
}

// Source is where the page reads streams from. It is an interface so that the handlers can be
// tested with hand-made results; ClickHouseSource is the real one. Implementations must be
// safe for concurrent use: every request calls them.
type Source interface {
	// Streams lists the streams with data, newest first.
	Streams(ctx context.Context) ([]StreamInfo, error)
	// Result is the stream's result over its whole range; ErrUnknownStream when nothing is
	// known about the stream (no measurement and no claim).
	Result(ctx context.Context, stream string) (*result.Result, error)
}

// ErrUnknownStream is returned by a Source for a stream it knows nothing about; the page
// answers 404.
var ErrUnknownStream = errors.New("unknown stream")

// Options configure the page.
type Options struct {
	// Refresh is how often the page of a stream that is not final reloads itself (default
	// 5 s: the aggregator rewrites a live minute about every few seconds, and a page reading
	// ClickHouse more often would only add load).
	Refresh time.Duration
	// Title names the site in every page's title and header (default "earshot").
	Title string
	// Logger receives the errors the page hides from its readers (default slog.Default()).
	Logger *slog.Logger
}

const (
	defaultRefresh = 5 * time.Second
	defaultTitle   = "earshot"
)

// New returns the handler of the page. It serves it at the root: links are absolute paths.
func New(src Source, opts Options) http.Handler {
	if opts.Refresh <= 0 {
		opts.Refresh = defaultRefresh
	}
	if opts.Title == "" {
		opts.Title = defaultTitle
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &server{src: src, opts: opts, pages: parsePages()}
	return s.routes()
}
