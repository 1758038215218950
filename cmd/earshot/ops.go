package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/config"
	"github.com/earshot/earshot/internal/ticket"
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
