// Command earshot is the command-line tool: migrate the ClickHouse schema, simulate a live
// stream through a collector, store claims, report a stream's audience with claim verdicts,
// and verify sketches against exact counts.
//
//	earshot migrate
//	earshot simulate --collector http://127.0.0.1:8080 --token T [--listeners 2000] [--report]
//	earshot claims add FILE.json | earshot claims list --stream ID
//	earshot report --stream ID [--from T --to T] [--minutes]
//	earshot verify --stream ID
//	earshot streams close ID
//	earshot ticket --stream ID --listener ID [--ttl 24h] [--key-env VAR]
//
// ClickHouse and Kafka settings come from config like every binary: --config,
// EARSHOT_CLICKHOUSE_*, EARSHOT_KAFKA_*, --set clickhouse.addr=...
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/pflag"

	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/config"
	"github.com/earshot/earshot/internal/eventlog"
)

// Config is the CLI's configuration.
type Config struct {
	ClickHouse chconn.Config `mapstructure:"clickhouse"`
	// Kafka is where `streams close` writes a stream's end, and how many partitions must
	// close a stream before `simulate --report` reads it.
	Kafka eventlog.Config `mapstructure:"kafka"`
}

const usage = `earshot — audience measurement for live audio

usage:
  earshot migrate                      apply ClickHouse migrations
  earshot simulate [flags]             send a simulated live stream through a collector
  earshot claims add FILE.json         store claims (JSON array)
  earshot claims list --stream ID      list a stream's claims
  earshot report --stream ID [flags]   measured audience and claim verdicts
  earshot verify --stream ID           audit sketches against exact counts from raw events
  earshot streams close ID             end a stream: every figure of it becomes final
  earshot ticket [flags]               sign a listener ticket, as a platform's backend does
  earshot config [--config F --set k=v] print the configuration in effect (secrets as <secret>)

run "earshot COMMAND --help" for a command's flags`

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Println(usage)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "migrate":
		err = migrate(ctx, args)
	case "simulate":
		err = simulate(ctx, args)
	case "claims":
		err = claimsCmd(ctx, args)
	case "report":
		err = reportCmd(ctx, args)
	case "verify":
		err = verify(ctx, args)
	case "streams":
		err = streamsCmd(ctx, args)
	case "ticket":
		err = ticketCmd(args, os.Stdout, os.Stderr)
	case "config":
		err = configCmd(args)
	default:
		err = fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "earshot:", err)
		os.Exit(1)
	}
}

// configCmd prints the CLI's configuration in effect.
func configCmd(args []string) error {
	fs := flags("config")
	fs.Parse(args)
	cfg, err := load(fs)
	if err != nil {
		return err
	}
	return config.Print(os.Stdout, &cfg)
}

// flags returns a flag set with the config flags.
func flags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("earshot "+name, pflag.ExitOnError)
	config.Flags(fs)
	return fs
}

// load reads the config.
func load(fs *pflag.FlagSet) (Config, error) {
	cfg := Config{ClickHouse: chconn.DefaultConfig(), Kafka: eventlog.DefaultConfig()}
	if err := config.Load(fs, &cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// open loads the config and connects to ClickHouse.
func open(ctx context.Context, fs *pflag.FlagSet) (driver.Conn, error) {
	cfg, err := load(fs)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chconn.Open(cctx, cfg.ClickHouse)
}
