package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/config"
	"github.com/earshot/earshot/internal/render"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/scenario"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/ticket"
	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/schema"
)

func migrateCommand() *cobra.Command {
	var roles bool
	var cluster, clusterDB string
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the ClickHouse migrations (schema/)",
		Long: `migrate applies the schema's migrations to the configured database (idempotent).

--cluster NAME prints instead the schema for a ClickHouse cluster: every table as a
Replicated*MergeTree table NAME_local on each shard with a Distributed table in front of it
(sharded by stream), every view ON CLUSTER. It migrates a scratch database on the connected
server to derive it, and drops it. Review the statements, then run them with clickhouse-client
(docs/scaling.md).`,
		Example: `  earshot migrate
  EARSHOT_CLICKHOUSE_DATABASE=earshot earshot migrate --roles
  earshot migrate --cluster earshot_cluster --cluster-database earshot > cluster.sql`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cluster != "" {
				return printClusterDDL(cmd, cluster, clusterDB)
			}
			conn, cfg, err := connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			out := cmd.OutOrStdout()
			if roles {
				if err := schema.ApplyRoles(cmd.Context(), conn, cfg.ClickHouse.Database); err != nil {
					return err
				}
				fmt.Fprintln(out, "roles earshot_writer and earshot_analyst are in place on", cfg.ClickHouse.Database)
			}
			applied, err := schema.Apply(cmd.Context(), conn)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(out, "schema is up to date")
			}
			for _, name := range applied {
				fmt.Fprintln(out, "applied", name)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&roles, "roles", false, "also create the earshot_writer and earshot_analyst roles (a real ClickHouse server; schema/roles/roles.sql)")
	c.Flags().StringVar(&cluster, "cluster", "", "print the schema for this ClickHouse cluster instead of migrating")
	c.Flags().StringVar(&clusterDB, "cluster-database", "earshot", "with --cluster: the database on the cluster")
	return c
}

// printClusterDDL prints the cluster form of the schema (schema.Cluster), derived from a
// scratch database migrated on the connected server.
func printClusterDDL(cmd *cobra.Command, cluster, target string) error {
	cfg, err := load(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	admin, err := chconn.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer admin.Close()
	scratch := fmt.Sprintf("earshot_cluster_scratch_%d", time.Now().UnixNano())
	if err := admin.Exec(ctx, "CREATE DATABASE "+scratch); err != nil {
		return err
	}
	defer admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+scratch)
	sc := cfg.ClickHouse
	sc.Database = scratch
	conn, err := chconn.Open(ctx, sc)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := schema.Apply(ctx, conn); err != nil {
		return err
	}
	sts, err := schema.Cluster(ctx, conn, scratch, cluster, target)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "-- earshot's schema for ClickHouse cluster %s, database %s (earshot migrate --cluster)\n", cluster, target)
	for _, st := range sts {
		fmt.Fprintf(out, "\n%s;\n", st)
	}
	return nil
}

func simulateCommand() *cobra.Command {
	var (
		collectorURL, token, claimsFile string
		scenarioFile, truthFile         string
		listeners, parallel             int
		withReport                      bool
		wait                            time.Duration
		scale, speed                    float64
		seed                            uint64
	)
	c := &cobra.Command{
		Use:   "simulate [flags]",
		Short: "Send a simulated live stream through a collector",
		Long: `simulate generates a stream from a scenario file (scenarios/*.yaml: the audience, its delivery,
the platform's counter, the claims made about it, with sources) at --scale, and sends it through
a collector; it prints the truth computed from the simulation plans (--truth writes every
metric per minute and in total as JSON). Without --scenario it plays a small-scale model of
the 12 Aug 2024 Space with --listeners. With --report it stores the scenario's claims, waits for
the aggregator to make the stream final and prints the report. --speed paces the events in
stream time (60: a minute a second); 0 sends as fast as the collector answers.`,
		Example: `  EARSHOT_SIM_TOKEN=... earshot simulate --scenario scenarios/x-spaces-2024-08-12.yaml --scale 0.0016 --report
  EARSHOT_SIM_TOKEN=... earshot simulate --scenario scenarios/smoke.yaml --truth smoke-truth.json
  EARSHOT_SIM_TOKEN=... earshot simulate --listeners 2000 --report --claims testdata/claims/x-space-2024-08-12-sim.json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				return usagef("--token (or EARSHOT_SIM_TOKEN) is required")
			}
			switch fs := cmd.Flags(); {
			case scenarioFile == "" && fs.Changed("scale"):
				return usagef("--scale applies to --scenario only; without it, size the built-in model with --listeners")
			case scenarioFile != "" && fs.Changed("listeners"):
				return usagef("--listeners applies without --scenario only; size a scenario with --scale")
			case !(speed >= 0) || math.IsInf(speed, 0):
				return usagef("--speed %v: want stream seconds per second, ≥ 0 (0: as fast as the collector answers)", speed)
			}
			out := cmd.OutOrStdout()
			ctx := cmd.Context()
			simSc, fileClaims := sim.DemoScenario(listeners), []claims.Claim(nil)
			if scenarioFile != "" {
				f, err := scenario.Load(scenarioFile, scale, seed)
				if err != nil {
					return err
				}
				simSc, fileClaims = f.Sim, f.Claims
				fmt.Fprintf(out, "scenario %s at scale %g\n", f.Name, scale)
			} else if seed != 0 {
				simSc.Seed = seed
			}
			st := sim.Generate(simSc)
			truth := sim.Oracle(st)
			sc := st.Scenario
			if truthFile != "" {
				if err := writeTruth(truthFile, scenario.TruthOf(st, scale)); err != nil {
					return err
				}
			}
			fmt.Fprintf(out, "simulating %s: %d listeners, audio %s late, %d events in %d requests (incl. retried batches)\n",
				sc.StreamID, sc.Listeners, sc.AudioDelay, st.Events, len(st.Batches))
			start := time.Now()
			res, err := sim.SendPaced(ctx, client.New(collectorURL, token), st, parallel, speed)
			if err != nil {
				return fmt.Errorf("after %d requests: %w", res.Requests, err)
			}
			el := time.Since(start)
			fmt.Fprintf(out, "sent: %d accepted by the collector in %s (%.0f events/s), %d client retries\n",
				res.Accepted, el.Round(time.Millisecond), float64(res.Accepted)/el.Seconds(), res.Retries)
			fmt.Fprintf(out, "truth (from the simulation plans): peak concurrent %d, peak hearing %d, cume %d, cume hearing %d, cume qualified %d, AQH %.1f\n",
				truth.PeakConcurrent, truth.PeakHearing, truth.CumeConnected, truth.CumeHearing, truth.CumeQualified, truth.AQHPersons())
			if !withReport {
				return nil
			}
			conn, cfg, err := connect(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			cs := fileClaims
			if claimsFile != "" {
				more, err := claims.LoadFile(claimsFile)
				if err != nil {
					return err
				}
				cs = append(cs, more...)
			}
			if len(cs) > 0 {
				if err := claims.Store(ctx, conn, cs); err != nil {
					return err
				}
			}
			wctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			fmt.Fprintf(out, "waiting for the aggregator: the stream is ended, its rows become final in all %d partitions ...\n", cfg.Kafka.Partitions)
			if err := report.WaitFinal(wctx, conn, sc.StreamID, cfg.Kafka.Partitions); err != nil {
				return err
			}
			fmt.Fprintf(out, "measured and stored %s after the last event was sent\n\n", time.Since(start.Add(el)).Round(100*time.Millisecond))
			r, err := result.Load(ctx, conn, sc.StreamID, time.Time{}, time.Time{}, result.Tolerance)
			if err != nil {
				return err
			}
			render.Table(out, r, false)
			return nil
		},
	}
	fs := c.Flags()
	fs.StringVar(&collectorURL, "collector", "http://127.0.0.1:8080", "collector base URL")
	fs.StringVar(&token, "token", os.Getenv("EARSHOT_SIM_TOKEN"), "ingest token with trusted_time (the simulation replays 2024 timestamps) and platform (it sends the displayed counter); default $EARSHOT_SIM_TOKEN")
	fs.StringVar(&scenarioFile, "scenario", "", "scenario file (scenarios/*.yaml); default: the built-in model of the 2024 night with --listeners")
	fs.Float64Var(&scale, "scale", 1, "with --scenario: the audience and the claims × this (1: full size)")
	fs.Uint64Var(&seed, "seed", 0, "random seed (0: the scenario's)")
	fs.Float64Var(&speed, "speed", 0, "pace the events at this many stream seconds per second (0: as fast as the collector answers)")
	fs.StringVar(&truthFile, "truth", "", "write the exact answers (every metric per minute and in total) to this JSON file")
	fs.IntVar(&listeners, "listeners", 2000, "listeners to simulate without --scenario")
	fs.IntVar(&parallel, "parallel", 8, "requests in flight")
	fs.BoolVar(&withReport, "report", false, "wait for the aggregator to finish the stream, then print its report and claim verdicts")
	fs.StringVar(&claimsFile, "claims", "", "claims file (CSV or JSON) to store before the report")
	fs.DurationVar(&wait, "wait", 3*time.Minute, "how long --report waits for the aggregator")
	return c
}

// writeTruth writes the truth to path.
func writeTruth(path string, t *scenario.Truth) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := t.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// configCommand prints the CLI's configuration in effect.
func configCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "config",
		Short:   "Print the configuration in effect (secrets as <secret>)",
		Example: `  earshot config --set clickhouse.addr=10.0.0.5:8123`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return config.Print(cmd.OutOrStdout(), &cfg)
		},
	}
}

// ticketCommand: `earshot ticket` signs a listener ticket the way a platform's backend does
// (internal/ticket), to test a player, or a collector with listener_auth on. The ticket goes to
// standard output, alone, for scripts. The key is read from the environment only, never from a
// flag, so that it stays out of shell history and process lists.
func ticketCommand() *cobra.Command {
	var keyEnv, stream, listener string
	var ttl time.Duration
	c := &cobra.Command{
		Use:     "ticket --stream ID --listener ID [--ttl 24h] [--key-env VAR]",
		Short:   "Sign a listener ticket, as a platform's backend does",
		Example: `  EARSHOT_TICKET_KEY=... earshot ticket --stream space-1 --listener user-42 --ttl 2h`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd.Flags(), "stream", "listener"); err != nil {
				return err
			}
			return signTicket(cmd.OutOrStdout(), cmd.ErrOrStderr(), keyEnv, stream, listener, ttl)
		},
	}
	fs := c.Flags()
	fs.StringVar(&keyEnv, "key-env", "EARSHOT_TICKET_KEY", "environment variable holding the ticket key (the collector's ticket.key)")
	fs.StringVar(&stream, "stream", "", "stream id (required)")
	fs.StringVar(&listener, "listener", "", "listener id (required)")
	fs.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the ticket is valid")
	return c
}

func signTicket(out, diag io.Writer, keyEnv, stream, listener string, ttl time.Duration) error {
	if ttl <= 0 {
		return usagef("--ttl must be positive")
	}
	key := os.Getenv(keyEnv)
	if key == "" {
		return fmt.Errorf("the variable %s (--key-env) is empty or unset", keyEnv)
	}
	expiry := time.Now().Add(ttl)
	tk, err := ticket.Sign([]byte(key), []byte(stream), []byte(listener), expiry)
	if err != nil {
		return fmt.Errorf("cannot sign a ticket: %w", err)
	}
	fmt.Fprintln(out, tk)
	fmt.Fprintf(diag, "ticket for listener %q on stream %q, valid until %s\n", listener, stream,
		time.Unix(expiry.Unix(), 0).UTC().Format(time.RFC3339))
	return nil
}
