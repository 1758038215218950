// Command collector accepts client telemetry over HTTP (POST /v1/events), validates and
// pseudonymizes it, and writes it to Kafka. See README.md and docs/operations.md.
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

	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/config"
	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/internal/logging"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "collector:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := pflag.NewFlagSet("collector", pflag.ExitOnError)
	config.Flags(fs)
	config.PrintFlag(fs)
	newLogger := logging.Flags(fs)
	fs.Parse(os.Args[1:])

	cfg := collector.DefaultConfig()
	if err := config.Load(fs, &cfg); err != nil {
		return err
	}
	cfg = cfg.WithEnvToken()
	if printed, err := config.PrintIfAsked(fs, os.Stdout, &cfg); printed {
		return err
	}
	log := newLogger()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	producer := collector.NewProducer(cfg.Kafka, cfg.Limits.InflightEvents, cfg.Limits.KafkaTimeout)
	srv, err := collector.NewServer(cfg, producer, log)
	if err != nil {
		return err
	}
	// Neither is fatal: the collector answers 503 until Kafka is back, and learns the partition
	// count (for ticks and end events) then.
	tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	partitions := 0
	if err := eventlog.EnsureTopic(tctx, cfg.Kafka); err != nil {
		log.Warn("cannot ensure topic; continuing", "topic", cfg.Kafka.Topic, "err", err)
	} else if partitions, err = producer.Partitions(tctx); err != nil {
		log.Warn("cannot read the partition count; ticks and end events wait for Kafka", "topic", cfg.Kafka.Topic, "err", err)
	}
	cancel()

	// The public listener (events) and the admin listener (metrics, readiness, profiles) are
	// apart so that clients never reach the operators' routes.
	hs, admin := srv.HTTPServer(), srv.AdminHTTPServer()
	errc := make(chan error, 2)
	go func() { errc <- hs.ListenAndServe() }()
	go func() { errc <- admin.ListenAndServe() }()
	// Ticks have their own context: they go on while requests drain, and stop before the
	// writer closes.
	tickCtx, stopTicks := context.WithCancel(context.Background())
	ticksDone := make(chan struct{})
	go func() {
		defer close(ticksDone)
		srv.RunTicks(tickCtx)
	}()
	log.Info("collector listening", "addr", cfg.Listen, "admin_addr", cfg.AdminListen, "topic", cfg.Kafka.Topic, "partitions", partitions,
		"brokers", cfg.Kafka.Brokers, "tick_interval", cfg.TickInterval)

	var serveErr error
	select {
	case serveErr = <-errc:
		serveErr = fmt.Errorf("cannot serve: %w", serveErr)
	case <-ctx.Done():
	}
	// Both listeners stop either way: a collector whose admin listener failed is not monitored,
	// and one whose public listener failed takes no events.
	log.Info("shutting down: draining requests and flushing Kafka")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Limits.ShutdownTimeout)
	defer cancel()
	for _, h := range []*http.Server{hs, admin} {
		if err := h.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("shutdown", "addr", h.Addr, "err", err)
		}
	}
	stopTicks()
	<-ticksDone
	return errors.Join(serveErr, producer.Close())
}
