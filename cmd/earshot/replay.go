package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/earshot/earshot/internal/render"
	"github.com/earshot/earshot/internal/replay"
)

func replayCommand() *cobra.Command {
	opts := replay.DefaultOptions("http://127.0.0.1:8080", "")
	var quiet bool
	c := &cobra.Command{
		Use:   "replay FILE.ndjson[.gz]",
		Short: "Send a recorded event log through a collector, resumably, and close its streams",
		Long: `replay sends a recorded event log — a platform's export, a newsroom's capture: NDJSON, one
event per line, gzip or not — through a collector with a trusted_time token: in batches, gzip,
several requests in flight, retried on 429/503. Lines that are not valid events, and events the
collector refuses, are counted by reason with their line numbers; the rest goes on.

It records how far it got (the end of the prefix of the file the collector acknowledged) in a
state file next to the input; run it again after an interruption and it goes on from there.
Events sent twice that way are duplicates by event_id, which the pipeline drops: the figures
equal those of an uninterrupted replay. At the end it closes every stream of the file, so that
their figures become final at once (--no-close leaves them open).`,
		Example: `  EARSHOT_REPLAY_TOKEN=... earshot replay capture.ndjson.gz --collector http://collector:8080
  EARSHOT_REPLAY_TOKEN=... earshot replay part1.ndjson --no-close && earshot replay part2.ndjson`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The environment is read here, not as the flag's default: --help prints defaults.
			opts.Token = cmp.Or(opts.Token, os.Getenv("EARSHOT_REPLAY_TOKEN"))
			if opts.Token == "" {
				return usagef("--token (or EARSHOT_REPLAY_TOKEN) is required: a collector token with trusted_time")
			}
			// replay.Options takes 0 for "the default": a 0 here would be silently replaced.
			for _, f := range []struct {
				name string
				v    int
			}{{"retries", opts.MaxRetries}, {"parallel", opts.Parallel}, {"batch-events", opts.BatchEvents}, {"batch-bytes", opts.BatchBytes}} {
				if f.v < 1 {
					return usagef("--%s %d: want at least 1", f.name, f.v)
				}
			}
			if !quiet {
				opts.Progress = func(p replay.Progress) { printProgress(cmd.ErrOrStderr(), p) }
			}
			sum, err := replay.Run(cmd.Context(), args[0], opts)
			printReplaySummary(cmd.OutOrStdout(), sum)
			if errors.Is(err, replay.ErrStateMismatch) {
				return usagef("%v", err)
			}
			return err
		},
	}
	fs := c.Flags()
	fs.StringVar(&opts.Collector, "collector", opts.Collector, "collector base URL")
	fs.StringVar(&opts.Token, "token", "", "ingest token with trusted_time (and platform for displayed events); default $EARSHOT_REPLAY_TOKEN")
	fs.IntVar(&opts.BatchEvents, "batch-events", opts.BatchEvents, "events per request at most")
	fs.IntVar(&opts.BatchBytes, "batch-bytes", opts.BatchBytes, "bytes of input lines per request at most")
	fs.IntVar(&opts.Parallel, "parallel", opts.Parallel, "requests in flight")
	fs.IntVar(&opts.MaxRetries, "retries", opts.MaxRetries, "retries per request on 429/503/network errors before stopping (resumable)")
	fs.StringVar(&opts.StatePath, "state", "", "state file (default FILE"+replay.StateSuffix+")")
	fs.BoolVar(&opts.NoClose, "no-close", false, "leave the streams open (more logs follow; end them with `earshot streams close ID`)")
	fs.BoolVarP(&quiet, "quiet", "q", false, "no progress line")
	return c
}

// printProgress rewrites one line: how much of the file is done, events/s and the time left.
func printProgress(w io.Writer, p replay.Progress) {
	pct := 0.0
	if p.BytesTotal > 0 {
		pct = 100 * float64(p.BytesRead) / float64(p.BytesTotal)
	}
	const width = 30
	done := int(pct / 100 * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '-'
		if i < done {
			bar[i] = '#'
		}
	}
	eta := "?"
	if p.ETA > 0 {
		eta = p.ETA.Round(time.Second).String()
	}
	fmt.Fprintf(w, "\r[%s] %5.1f%%  %d events sent, %d accepted  %.0f events/s  ETA %s   ", bar, pct, p.Sent, p.Accepted, p.EventsPerSec, eta)
	if p.Done {
		fmt.Fprintln(w)
	}
}

// printReplaySummary says what was sent, refused and closed.
func printReplaySummary(w io.Writer, s replay.Summary) {
	if s.Resumed {
		fmt.Fprintf(w, "resumed at line %d (byte %d) from %s\n", s.ResumedLine+1, s.ResumedAt, render.Text(s.StatePath))
	}
	fmt.Fprintf(w, "%d lines: %d events sent, %d accepted, %d rejected by the collector, %d lines not events; %d retries in %s\n",
		s.Lines, s.Sent, s.Accepted, s.Rejected, s.Malformed, s.Retries, s.Elapsed.Round(time.Millisecond))
	for _, x := range []struct {
		what    string
		reasons map[string]int64
		lines   []replay.LineError
	}{{"not events", s.MalformedByReason, s.MalformedLines}, {"rejected", s.RejectedByReason, s.RejectedLines}} {
		reasons := make([]string, 0, len(x.reasons))
		for r := range x.reasons {
			reasons = append(reasons, r)
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			fmt.Fprintf(w, "  %s, %s: %d\n", x.what, render.Text(r), x.reasons[r])
		}
		for i, l := range x.lines {
			if i == 10 {
				fmt.Fprintf(w, "    … and %d more\n", len(x.lines)-10)
				break
			}
			fmt.Fprintf(w, "    line %d: %s\n", l.Line, render.Text(l.Message))
		}
	}
	if len(s.Closed) > 0 {
		fmt.Fprintf(w, "closed %d of %d streams: their figures are final\n", len(s.Closed), len(s.Streams))
	}
}
