// Command earshot is the command-line tool of earshot: migrate the ClickHouse schema, simulate
// a live stream through a collector, store claims, report a stream's audience with claim
// verdicts in several formats, check one figure in one sentence, serve the web page, and audit
// sketches against exact counts. `earshot --help` lists the commands, `earshot help COMMAND`
// shows each one's flags and examples.
//
// ClickHouse and Kafka settings come from config like every binary: --config,
// EARSHOT_CLICKHOUSE_*, EARSHOT_KAFKA_*, --set clickhouse.addr=...
//
// Exit codes: 0 success; 1 the command failed (a server unreachable, a file invalid, …);
// 2 the command line is wrong (unknown command or flag, a missing required flag); 3 `earshot
// audit` found an exact count outside its sketch's interval.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/config"
	"github.com/earshot/earshot/internal/eventlog"
)

// Config is the CLI's configuration.
type Config struct {
	ClickHouse chconn.Config `mapstructure:"clickhouse"`
	// Kafka is where `streams close` writes a stream's end, and how many partitions must
	// close a stream before `simulate --report` reads it.
	Kafka eventlog.Config `mapstructure:"kafka"`
	// Hash is the collectors' listener hashing key: `simulate --to-kafka` pseudonymizes as a
	// collector does, so the listener keys agree with theirs.
	Hash collector.HashConfig `mapstructure:"hash"`
}

// Exit codes (documented in the package comment and in `earshot --help`).
const (
	exitFailed = 1
	exitUsage  = 2
	exitAudit  = 3
)

// usageError is a wrong command line: exit code 2 and the command's usage.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// errAuditFailed: the exact count is outside the sketch's interval (exit code 3).
var errAuditFailed = errors.New("audit failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	root := newRoot(out, errOut)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(errOut, "earshot:", err)
	var ue usageError
	switch {
	case errors.As(err, &ue) || isCobraUsage(err):
		fmt.Fprintf(errOut, "run %q for usage\n", cmd.CommandPath()+" --help")
		return exitUsage
	case errors.Is(err, errAuditFailed):
		return exitAudit
	}
	return exitFailed
}

// isCobraUsage recognises cobra's own command-line errors (it has no error types for them).
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "required flag", "accepts ", "requires at least", "invalid argument"} {
		if len(msg) >= len(p) && msg[:len(p)] == p {
			return true
		}
	}
	return false
}

func newRoot(out, errOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "earshot",
		Short: "Audience measurement for live audio: measured listeners, claims and verdicts",
		Long: `earshot measures the real audience of live audio streams from client telemetry and checks
displayed or claimed audience figures against what was measured, with 95 % intervals.

Settings (ClickHouse, Kafka) come from --config FILE, EARSHOT_* environment variables
(EARSHOT_CLICKHOUSE_ADDR, EARSHOT_KAFKA_BROKERS, ...) or --set key=value.

Exit codes: 0 success, 1 the command failed, 2 wrong command line, 3 audit found an exact
count outside its interval.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	config.Flags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddGroup(&cobra.Group{ID: "read", Title: "Reading the figures:"}, &cobra.Group{ID: "write", Title: "Claims and streams:"},
		&cobra.Group{ID: "ops", Title: "Setting up and testing:"})
	for _, c := range []*cobra.Command{reportCommand(), checkCommand(), serveCommand(), auditCommand()} {
		c.GroupID = "read"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{claimsCommand(), streamsCommand()} {
		c.GroupID = "write"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{migrateCommand(), simulateCommand(), replayCommand(), ticketCommand(), configCommand()} {
		c.GroupID = "ops"
		root.AddCommand(c)
	}
	return root
}

// load reads the config (flags --config and --set of cmd, the environment, the defaults).
func load(cmd *cobra.Command) (Config, error) {
	cfg := Config{ClickHouse: chconn.DefaultConfig(), Kafka: eventlog.DefaultConfig()}
	return cfg, config.Load(cmd.Flags(), &cfg)
}

// open loads the config and connects to ClickHouse.
func open(cmd *cobra.Command) (driver.Conn, error) {
	conn, _, err := connect(cmd)
	return conn, err
}

// connect is open that also returns the config.
func connect(cmd *cobra.Command) (driver.Conn, Config, error) {
	cfg, err := load(cmd)
	if err != nil {
		return nil, cfg, err
	}
	cctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	conn, err := chconn.Open(cctx, cfg.ClickHouse)
	return conn, cfg, err
}

// streamQuery is the RunE of a command that reads one stream (--stream, required): it
// connects to ClickHouse and runs fn.
func streamQuery(stream *string, fn func(cmd *cobra.Command, conn driver.Conn, stream string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := required(cmd.Flags(), "stream"); err != nil {
			return err
		}
		conn, err := open(cmd)
		if err != nil {
			return err
		}
		defer conn.Close()
		return fn(cmd, conn, *stream)
	}
}

// required fails with a usage error when a flag was not given.
func required(fs *pflag.FlagSet, names ...string) error {
	for _, n := range names {
		if !fs.Changed(n) {
			return usagef("--%s is required", n)
		}
	}
	return nil
}

// parseTime reads a flag's RFC 3339 time (zero when empty).
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("--%s: want RFC 3339, e.g. 2024-08-13T01:00:00Z: %v", flag, err)
	}
	return t, nil
}

// checkTolerance refuses a --tolerance that is not in [0, 1): NaN would make every claim
// consistent (and the JSON unencodable), a negative one would call claims below the measured
// figure overstated, 1 or more would never call a claim understated.
func checkTolerance(t float64) error {
	if !(t >= 0 && t < 1) {
		return usagef("--tolerance %v: want a relative tolerance ≥ 0 and < 1, e.g. 0.05", t)
	}
	return nil
}

// exactArgs is cobra.ExactArgs as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
