package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/render"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/result"
)

func claimsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "claims",
		Short: "Store and list public audience claims",
		Long: `A claim is a public statement about an audience: {claim_id, stream_id, claimant, quote,
claimed_value, metric, said_at, source_url}; metric is concurrent, cume or displayed. Claims are
kept by id: adding or importing a claim id again replaces it.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("claims needs a subcommand: add, import or list")
		},
	}
	c.AddCommand(claimsAddCommand(), claimsImportCommand(), claimsListCommand())
	return c
}

func claimsAddCommand() *cobra.Command {
	var cf claimFlags
	c := &cobra.Command{
		Use:   "add --stream ID --claimed N --metric M [flags]",
		Short: "Store one claim given by flags",
		Example: `  earshot claims add --stream x-space-2024-08-12 --claimed 60000000 --metric concurrent \
      --at 2024-08-13T01:00:00Z --claimant "Donald Trump" --quote "60 million people are listening" \
      --source https://example.org/clip`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := cf.claim(cmd.Flags())
			if err != nil {
				return err
			}
			conn, err := open(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			if err := claims.Store(cmd.Context(), conn, []claims.Claim{cl}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stored claim %s\n", render.Text(cl.ID))
			return nil
		},
	}
	cf.register(c)
	c.Flags().StringVar(&cf.c.ID, "id", "", "claim id (default: derived from stream, metric, value, time and claimant)")
	return c
}

func claimsImportCommand() *cobra.Command {
	var dryRun bool
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Store the claims of a CSV or JSON file (validated first; idempotent by claim id)",
		Long: `import reads claims from a CSV file (a header row naming the columns claim_id, stream_id,
claimant, quote, claimed_value, metric, said_at, source_url), a JSON array or NDJSON; "-" reads
standard input. Every claim is validated before any is stored: errors name the line. Claims are
kept by id, so importing the same file twice stores each claim once.`,
		Example: `  earshot claims import testdata/claims/x-space-2024-08-12.json
  earshot claims import claims.csv --dry-run`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := claims.LoadFile(args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if dryRun {
				fmt.Fprintf(out, "%s: %d valid claims (not stored: --dry-run)\n", render.Text(args[0]), len(cs))
				return nil
			}
			conn, err := open(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			if err := claims.Store(cmd.Context(), conn, cs); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s: stored %d claims\n", render.Text(args[0]), len(cs))
			return nil
		},
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "validate only")
	return c
}

func claimsListCommand() *cobra.Command {
	var stream string
	c := &cobra.Command{
		Use:     "list --stream ID",
		Short:   "List a stream's claims: id, claimant, metric, value, said_at, quote (tab-separated)",
		Example: `  earshot claims list --stream x-space-2024-08-12`,
		Args:    exactArgs(0),
		RunE: streamQuery(&stream, func(cmd *cobra.Command, conn driver.Conn, stream string) error {
			cs, err := claims.ForStream(cmd.Context(), conn, stream)
			if err != nil {
				return err
			}
			rs := make([]result.Claim, len(cs))
			for i, c := range cs {
				rs[i] = result.FromClaim(c)
			}
			render.Claims(cmd.OutOrStdout(), rs)
			return nil
		}),
	}
	c.Flags().StringVar(&stream, "stream", "", "stream id (required)")
	return c
}

// streamsCommand: `earshot streams close ID` ends a stream the way an end event of a trusted
// token does — an end record in every partition of the events topic — for a replay or import
// that ended without one. Every figure of the stream becomes final at once; its later events
// are counted too late.
func streamsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "streams",
		Short: "Manage streams",
		Args:  exactArgs(0),
		RunE:  func(cmd *cobra.Command, _ []string) error { return usagef("streams needs a subcommand: close") },
	}
	var wait time.Duration
	closeCmd := &cobra.Command{
		Use:   "close ID",
		Short: "End a stream: every figure of it becomes final",
		Long: `close writes a stream's end to every partition of the events topic, as an end event of a
trusted token does, for a replay or import that ended without one. Every figure of the stream
becomes final at once; events of it that arrive later are counted too late.`,
		Example: `  earshot streams close replay-2024-08-12 --wait 2m`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stream := args[0]
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			p := collector.NewProducer(cfg.Kafka, 1, 30*time.Second)
			defer p.Close()
			now := time.Now()
			id := fmt.Sprintf("earshot-streams-close-%d", now.UnixNano())
			if err := p.WriteEveryPartition(cmd.Context(), collector.EndRecord(stream, id, now.UnixMilli())); err != nil {
				return fmt.Errorf("cannot write the end of %s: %w", render.Text(stream), err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "stream %s: end written to every partition of %s\n", render.Text(stream), cfg.Kafka.Topic)
			if wait <= 0 {
				return nil
			}
			conn, err := open(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			wctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			if err := report.WaitFinal(wctx, conn, stream, cfg.Kafka.Partitions); err != nil {
				return err
			}
			fmt.Fprintf(out, "stream %s: final in all %d partitions\n", render.Text(stream), cfg.Kafka.Partitions)
			return nil
		},
	}
	closeCmd.Flags().DurationVar(&wait, "wait", 0, "also wait this long for every partition to close it (0: do not wait)")
	c.AddCommand(closeCmd)
	return c
}
