package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/web"
)

func serveCommand() *cobra.Command {
	var listen string
	var refresh time.Duration
	var tolerance float64
	c := &cobra.Command{
		Use:   "serve [--listen 127.0.0.1:8090]",
		Short: "Serve the web page for journalists (reads ClickHouse only)",
		Long: `serve runs the web page: a list of streams and, per stream, a chart of connected and hearing
listeners with their 95 % intervals, the platform's displayed counter and the claims, the totals
with each metric's definition, what the displayed counter tracks, and every verdict in one
sentence with a permalink. /streams/ID.json is the report's JSON, /streams/ID.csv its minute
curve. A live stream's page reloads every --refresh and marks its provisional minutes.

It only reads ClickHouse: give it the earshot_analyst role (earshot migrate --roles).`,
		Example: `  earshot serve
  earshot serve --listen 0.0.0.0:8090 --set clickhouse.database=earshot_demo`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkTolerance(tolerance); err != nil {
				return err
			}
			conn, err := open(cmd)
			if err != nil {
				return err
			}
			defer conn.Close()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			srv := &http.Server{
				Handler: web.New(web.ClickHouseSource(conn, tolerance), web.Options{Refresh: refresh, Logger: log}),
				// A reader's slow connection must not hold a goroutine and a query forever.
				ReadHeaderTimeout: 10 * time.Second,
				WriteTimeout:      60 * time.Second,
				IdleTimeout:       2 * time.Minute,
			}
			fmt.Fprintf(cmd.OutOrStdout(), "earshot serve: http://%s/ (Ctrl-C stops)\n", ln.Addr())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			select {
			case err := <-done:
				return err
			case <-cmd.Context().Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return err
			}
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	fs := c.Flags()
	fs.StringVar(&listen, "listen", "127.0.0.1:8090", "address to listen on")
	fs.DurationVar(&refresh, "refresh", 5*time.Second, "how often a live stream's page reloads")
	fs.Float64Var(&tolerance, "tolerance", result.Tolerance, "relative tolerance of verdicts")
	return c
}
