// Command aggregator turns the events topic into audience figures in ClickHouse. Run several
// with the same group to share the partitions. See README.md and docs/operations.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/earshot/earshot/internal/aggregator"
	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/config"
	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/internal/logging"
	"github.com/earshot/earshot/schema"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "aggregator:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := pflag.NewFlagSet("aggregator", pflag.ExitOnError)
	config.Flags(fs)
	config.PrintFlag(fs)
	newLogger := logging.Flags(fs)
	migrate := fs.Bool("migrate", false, "apply ClickHouse migrations before starting")
	fs.Parse(os.Args[1:])

	cfg := aggregator.DefaultConfig()
	if err := config.Load(fs, &cfg); err != nil {
		return err
	}
	if printed, err := config.PrintIfAsked(fs, os.Stdout, &cfg); printed {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := chconn.Open(octx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	if *migrate {
		applied, err := schema.Apply(octx, conn)
		if err != nil {
			return err
		}
		log.Info("migrations applied", "applied", applied)
	}
	if err := eventlog.EnsureTopic(octx, cfg.Kafka); err != nil {
		log.Warn("cannot ensure topic; continuing", "err", err)
	}
	agg, err := aggregator.New(cfg, conn, log)
	if err != nil {
		return err
	}
	hs := &http.Server{Addr: cfg.Listen, Handler: agg.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	defer hs.Close()
	log.Info("aggregator running", "group", cfg.Group, "topic", cfg.Kafka.Topic, "clickhouse", cfg.ClickHouse.Addr)
	return agg.Run(ctx)
}
