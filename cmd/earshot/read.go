package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/render"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/result"
)

func reportCommand() *cobra.Command {
	var stream, from, to, format string
	var minutes, follow bool
	var every time.Duration
	var tolerance float64
	c := &cobra.Command{
		Use:   "report --stream ID [--from T --to T] [--format table|json|csv|markdown] [--follow]",
		Short: "A stream's measured audience and the verdicts on its claims",
		Long: `report reads a stream's figures from ClickHouse — peaks, cume, AQH, TSL, the minute curve, every
distinct count with its 95 % interval — and checks every stored claim about it.

Formats: table (the terminal), json (documented in docs/report.md, schema
docs/report.schema.json), csv (the minute curve), markdown (for a CMS or a chat).`,
		Example: `  earshot report --stream x-space-2024-08-12
  earshot report --stream x-space-2024-08-12 --minutes
  earshot report --stream x-space-2024-08-12 --from 2024-08-13T00:45:00Z --to 2024-08-13T01:15:00Z
  earshot report --stream x-space-2024-08-12 --format json > report.json
  earshot report --stream x-space-2024-08-12 --format csv > curve.csv
  earshot report --stream live-space --follow --every 5s`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd.Flags(), "stream"); err != nil {
				return err
			}
			f, err := parseTime("from", from)
			if err != nil {
				return err
			}
			t, err := parseTime("to", to)
			if err != nil {
				return err
			}
			for _, x := range []struct {
				name string
				t    time.Time
			}{{"from", f}, {"to", t}} {
				if !x.t.Equal(x.t.Truncate(time.Minute)) {
					return usagef("--%s %s: the range is made of whole minutes; give a time on the minute", x.name, x.t.Format(time.RFC3339Nano))
				}
			}
			if !f.IsZero() && !t.IsZero() && !f.Before(t) {
				return usagef("--from must be before --to (to is exclusive)")
			}
			if !validFormat(format) {
				return usagef("--format %q: want one of %s", format, strings.Join(render.Formats, ", "))
			}
			if err := checkTolerance(tolerance); err != nil {
				return err
			}
			if follow && format != "table" {
				return usagef("--follow prints the table again and again; --format %s is one document (fetch it again instead)", format)
			}
			if follow && every <= 0 {
				return usagef("--every %s: want a positive interval", every)
			}
			conn, err := open(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			for {
				res, err := result.Load(cmd.Context(), conn, stream, f, t, tolerance)
				if err != nil {
					return err
				}
				if follow && format == "table" {
					fmt.Fprintf(cmd.OutOrStdout(), "--- %s\n", time.Now().UTC().Format("15:04:05 UTC"))
				}
				if err := render.Write(cmd.OutOrStdout(), format, res, minutes); err != nil {
					return err
				}
				// --follow prints the report again every --every until the stream is final:
				// a live stream's figures are provisional and grow minute by minute.
				if !follow || res.Status == result.StatusFinal {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(every):
				}
			}
		},
	}
	fs := c.Flags()
	fs.StringVar(&stream, "stream", "", "stream id (required)")
	fs.StringVar(&from, "from", "", "start of the range, RFC 3339, minute-aligned (default: the stream's first minute)")
	fs.StringVar(&to, "to", "", "end of the range, exclusive (default: after its last minute)")
	fs.StringVar(&format, "format", "table", "output: "+strings.Join(render.Formats, ", "))
	fs.BoolVar(&minutes, "minutes", false, "add the per-minute curve to the table or markdown")
	fs.BoolVar(&follow, "follow", false, "print the report again every --every until the stream is final (Ctrl-C stops)")
	fs.DurationVar(&every, "every", 5*time.Second, "how often --follow prints")
	fs.Float64Var(&tolerance, "tolerance", result.Tolerance, "relative tolerance of verdicts (public figures are rounded)")
	c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(render.Formats, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func validFormat(f string) bool {
	for _, x := range render.Formats {
		if f == x {
			return true
		}
	}
	return f == "md"
}

func checkCommand() *cobra.Command {
	var cf claimFlags
	var format string
	var save bool
	var tolerance float64
	cmd := &cobra.Command{
		Use:   "check --stream ID --claimed N --metric concurrent|cume|displayed [--at T]",
		Short: "Check one audience figure against the measurement, in one sentence",
		Long: `check compares one claimed figure with what earshot measured and prints one sentence to paste:
what was measured when the claim was made, the verdict with its factor, and the platform's
displayed counter; then the figures the claim is often confused with.

Metrics: concurrent ("N are listening right now": connected listeners at the peak second of
the minute of --at, or of the stream), cume ("N listened": distinct listeners over the
stream), displayed (a figure the platform's app showed).

--save stores the claim (its id is derived from stream, metric, value, time and claimant, so
saving twice stores it once); report and the web page then show it.`,
		Example: `  earshot check --stream x-space-2024-08-12 --claimed 60000000 --metric concurrent --at 2024-08-13T01:00:00Z
  earshot check --stream x-space-2024-08-12 --claimed 1200000 --metric displayed --format json
  earshot check --stream x-space-2024-08-12 --claimed 60000000 --metric concurrent --at 2024-08-13T01:00:00Z \
      --claimant "Donald Trump" --quote "60 million people are listening" --source https://example.org/clip --save`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.claim(cmd.Flags())
			if err != nil {
				return err
			}
			if format != "table" && format != "json" {
				return usagef("--format %q: want table or json", format)
			}
			if err := checkTolerance(tolerance); err != nil {
				return err
			}
			conn, err := open(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			extra := []claims.Claim{c}
			if save {
				if err := claims.Store(cmd.Context(), conn, extra); err != nil {
					return err
				}
				extra = nil // stored: Load reads it back with the others
			}
			res, err := result.Load(cmd.Context(), conn, c.StreamID, time.Time{}, time.Time{}, tolerance, extra...)
			if err != nil {
				return err
			}
			v, ok := verdictOf(res, c.ID)
			if !ok {
				return fmt.Errorf("claim %s was stored but not read back", c.ID)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return render.VerdictJSON(out, v)
			}
			render.Check(out, res, v)
			if save {
				fmt.Fprintf(out, "\nsaved as claim %s\n", c.ID)
			}
			return nil
		},
	}
	cf.register(cmd)
	fs := cmd.Flags()
	fs.BoolVar(&save, "save", false, "store the claim")
	fs.StringVar(&format, "format", "table", "output: table or json (the verdict object of docs/report.md)")
	fs.Float64Var(&tolerance, "tolerance", result.Tolerance, "relative tolerance of the verdict")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func verdictOf(res *result.Result, id string) (result.Verdict, bool) {
	for _, v := range res.Claims {
		if v.Claim.ID == id {
			return v, true
		}
	}
	return result.Verdict{}, false
}

func auditCommand() *cobra.Command {
	var stream string
	c := &cobra.Command{
		Use:     "audit --stream ID",
		Aliases: []string{"verify"},
		Short:   "Audit a stream's sketches against exact counts from the raw events",
		Long: `audit counts a stream's distinct connected listeners three ways: exactly over the raw events
(uniqExact), with earshot's sketches (what reports use), and with ClickHouse's uniqCombined64
states; it fails (exit code 3) when the exact count lies outside the sketch's 95 % interval.`,
		Example: `  earshot audit --stream x-space-2024-08-12`,
		Args:    exactArgs(0),
		RunE: streamQuery(&stream, func(cmd *cobra.Command, conn driver.Conn, stream string) error {
			a, err := report.RunAudit(cmd.Context(), conn, stream)
			if err != nil {
				return err
			}
			render.Audit(cmd.OutOrStdout(), stream, a)
			if !a.Covered() {
				return fmt.Errorf("%w: the exact count %d is outside the sketch's interval", errAuditFailed, a.Exact)
			}
			return nil
		}),
	}
	c.Flags().StringVar(&stream, "stream", "", "stream id (required)")
	return c
}
