package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/pflag"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/render"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/internal/ticket"
	"github.com/earshot/earshot/pkg/client"
	"github.com/earshot/earshot/schema"
)

func migrate(ctx context.Context, args []string) error {
	fs := flags("migrate")
	roles := fs.Bool("roles", false, "also create the earshot_writer and earshot_analyst roles (a real ClickHouse server; schema/roles/roles.sql)")
	fs.Parse(args)
	conn, err := open(ctx, fs)
	if err != nil {
		return err
	}
	defer conn.Close()
	if *roles {
		cfg, err := load(fs)
		if err != nil {
			return err
		}
		if err := schema.ApplyRoles(ctx, conn, cfg.ClickHouse.Database); err != nil {
			return err
		}
		fmt.Println("roles earshot_writer and earshot_analyst are in place on", cfg.ClickHouse.Database)
	}
	applied, err := schema.Apply(ctx, conn)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Println("schema is up to date")
	}
	for _, name := range applied {
		fmt.Println("applied", name)
	}
	return nil
}

func simulate(ctx context.Context, args []string) error {
	fs := flags("simulate")
	collector := fs.String("collector", "http://127.0.0.1:8080", "collector base URL")
	token := fs.String("token", os.Getenv("EARSHOT_SIM_TOKEN"), "ingest token with trusted_time (the simulation replays 2024 timestamps) and platform (it sends the displayed counter); default $EARSHOT_SIM_TOKEN")
	listeners := fs.Int("listeners", 2000, "listeners to simulate")
	parallel := fs.Int("parallel", 8, "requests in flight")
	withReport := fs.Bool("report", false, "wait for the aggregator to finish the stream, then print its report and claim verdicts")
	claimsFile := fs.String("claims", "", "claims (JSON) to store before the report")
	wait := fs.Duration("wait", 3*time.Minute, "how long --report waits for the aggregator")
	fs.Parse(args)
	if *token == "" {
		return errors.New("--token (or EARSHOT_SIM_TOKEN) is required")
	}
	st := sim.Generate(sim.DemoScenario(*listeners))
	truth := sim.Oracle(st)
	sc := st.Scenario
	fmt.Printf("simulating %s: %d listeners, audio %s late, %d events in %d requests (incl. retried batches)\n",
		sc.StreamID, sc.Listeners, sc.AudioDelay, st.Events, len(st.Batches))
	c := client.New(*collector, *token)
	start := time.Now()
	res, err := sim.Send(ctx, c, st, *parallel)
	if err != nil {
		return fmt.Errorf("after %d requests: %w", res.Requests, err)
	}
	el := time.Since(start)
	fmt.Printf("sent: %d accepted by the collector in %s (%.0f events/s), %d client retries\n",
		res.Accepted, el.Round(time.Millisecond), float64(res.Accepted)/el.Seconds(), res.Retries)
	fmt.Printf("truth (from the simulation plans): peak concurrent %d, peak hearing %d, cume %d, cume hearing %d, cume qualified %d, AQH %.1f\n",
		truth.PeakConcurrent, truth.PeakHearing, truth.CumeConnected, truth.CumeHearing, truth.CumeQualified, truth.AQHPersons())
	if !*withReport {
		return nil
	}
	conn, err := open(ctx, fs)
	if err != nil {
		return err
	}
	defer conn.Close()
	if *claimsFile != "" {
		cs, err := claims.LoadFile(*claimsFile)
		if err != nil {
			return err
		}
		if err := claims.Store(ctx, conn, cs); err != nil {
			return err
		}
	}
	cfg, err := load(fs)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	fmt.Printf("waiting for the aggregator: the stream is ended, its rows become final in all %d partitions ...\n", cfg.Kafka.Partitions)
	if err := report.WaitFinal(wctx, conn, sc.StreamID, cfg.Kafka.Partitions); err != nil {
		return err
	}
	fmt.Printf("measured and stored %s after the last event was sent\n\n", time.Since(start.Add(el)).Round(100*time.Millisecond))
	return printReport(ctx, conn, sc.StreamID, time.Time{}, time.Time{}, false)
}

func printReport(ctx context.Context, conn driver.Conn, stream string, from, to time.Time, minutes bool) error {
	r, err := report.Load(ctx, conn, stream, from, to)
	if err != nil && !errors.Is(err, report.ErrNoData) {
		return err
	}
	cs, err := claims.ForStream(ctx, conn, stream)
	if err != nil {
		return err
	}
	var vs []claims.Verdict
	for _, c := range cs {
		vs = append(vs, claims.Check(c, r, 0.05))
	}
	if r == nil {
		render.NoData(os.Stdout, stream, vs, report.ErrNoData)
		return nil
	}
	render.Report(os.Stdout, r, vs, minutes)
	return nil
}

func claimsCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: earshot claims add FILE.json | earshot claims list --stream ID")
	}
	fs := flags("claims " + args[0])
	stream := fs.String("stream", "", "stream id (list)")
	fs.Parse(args[1:])
	conn, err := open(ctx, fs)
	if err != nil {
		return err
	}
	defer conn.Close()
	switch args[0] {
	case "add":
		if fs.NArg() != 1 {
			return errors.New("usage: earshot claims add FILE.json")
		}
		cs, err := claims.LoadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		if err := claims.Store(ctx, conn, cs); err != nil {
			return err
		}
		fmt.Printf("stored %d claims\n", len(cs))
	case "list":
		cs, err := claims.ForStream(ctx, conn, *stream)
		if err != nil {
			return err
		}
		render.Claims(os.Stdout, cs)
	default:
		return fmt.Errorf("unknown claims command %q", args[0])
	}
	return nil
}

func reportCmd(ctx context.Context, args []string) error {
	fs := flags("report")
	stream := fs.String("stream", "", "stream id (required)")
	from := fs.String("from", "", "start of the range, RFC 3339 (default: the stream's first minute)")
	to := fs.String("to", "", "end of the range, RFC 3339 (default: its last)")
	minutes := fs.Bool("minutes", false, "print the per-minute curve")
	fs.Parse(args)
	if *stream == "" {
		return errors.New("--stream is required")
	}
	var f, t time.Time
	for _, x := range []struct {
		s   string
		dst *time.Time
	}{{*from, &f}, {*to, &t}} {
		if x.s == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, x.s)
		if err != nil {
			return fmt.Errorf("--from/--to: %w", err)
		}
		*x.dst = v
	}
	conn, err := open(ctx, fs)
	if err != nil {
		return err
	}
	defer conn.Close()
	return printReport(ctx, conn, *stream, f, t, *minutes)
}

func verify(ctx context.Context, args []string) error {
	fs := flags("verify")
	stream := fs.String("stream", "", "stream id (required)")
	fs.Parse(args)
	if *stream == "" {
		return errors.New("--stream is required")
	}
	conn, err := open(ctx, fs)
	if err != nil {
		return err
	}
	defer conn.Close()
	a, err := report.RunAudit(ctx, conn, *stream)
	if err != nil {
		return err
	}
	fmt.Printf("stream %s: distinct listeners with events\n", render.Text(*stream))
	fmt.Printf("  uniqExact over events_raw            %d\n", a.Exact)
	fmt.Printf("  earshot sketches (cume connected)    %s\n", report.Round(a.Sketch))
	fmt.Printf("  SQL uniqCombined64 (listener_minutes) %d\n", a.SQL)
	if !a.Covered() {
		return fmt.Errorf("the exact count %d is outside the sketch's interval", a.Exact)
	}
	fmt.Println("  ok: the exact count is inside the stated interval")
	return nil
}

// streamsCmd: `earshot streams close ID` ends a stream the way an end event of a trusted
// token does — an end record in every partition of the events topic — for a replay or import
// that ended without one. Every figure of the stream becomes final at once; its later events
// are counted too late.
func streamsCmd(ctx context.Context, args []string) error {
	if len(args) < 1 || args[0] != "close" {
		return errors.New("usage: earshot streams close ID")
	}
	fs := flags("streams close")
	wait := fs.Duration("wait", 0, "also wait this long for every partition to close it (0: do not wait)")
	fs.Parse(args[1:])
	if fs.NArg() != 1 {
		return errors.New("usage: earshot streams close ID")
	}
	stream := fs.Arg(0)
	cfg, err := load(fs)
	if err != nil {
		return err
	}
	p := collector.NewProducer(cfg.Kafka, 1, 30*time.Second)
	defer p.Close()
	now := time.Now()
	id := fmt.Sprintf("earshot-streams-close-%d", now.UnixNano())
	if err := p.WriteEveryPartition(ctx, collector.EndRecord(stream, id, now.UnixMilli())); err != nil {
		return fmt.Errorf("cannot write the end of %s: %w", render.Text(stream), err)
	}
	fmt.Printf("stream %s: end written to every partition of %s\n", render.Text(stream), cfg.Kafka.Topic)
	if *wait <= 0 {
		return nil
	}
	conn, err := open(ctx, fs)
	if err != nil {
		return err
	}
	defer conn.Close()
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	if err := report.WaitFinal(wctx, conn, stream, cfg.Kafka.Partitions); err != nil {
		return err
	}
	fmt.Printf("stream %s: final in all %d partitions\n", render.Text(stream), cfg.Kafka.Partitions)
	return nil
}

// ticketCmd: `earshot ticket` signs a listener ticket the way a platform's backend does
// (internal/ticket), to test a player, or a collector with listener_auth on. The ticket goes to
// out, alone, for scripts. The key is read from the environment only, never from a flag, so that
// it stays out of shell history and process lists.
func ticketCmd(args []string, out, diag io.Writer) error {
	fs := pflag.NewFlagSet("earshot ticket", pflag.ExitOnError)
	keyEnv := fs.String("key-env", "EARSHOT_TICKET_KEY", "environment variable holding the ticket key (the collector's ticket.key)")
	stream := fs.String("stream", "", "stream id (required)")
	listener := fs.String("listener", "", "listener id (required)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the ticket is valid")
	fs.Parse(args)
	switch {
	case *stream == "" || *listener == "":
		return errors.New("--stream and --listener are required")
	case *ttl <= 0:
		return errors.New("--ttl must be positive")
	}
	key := os.Getenv(*keyEnv)
	if key == "" {
		return fmt.Errorf("the variable %s (--key-env) is empty or unset", *keyEnv)
	}
	expiry := time.Now().Add(*ttl)
	tk, err := ticket.Sign([]byte(key), []byte(*stream), []byte(*listener), expiry)
	if err != nil {
		return fmt.Errorf("cannot sign a ticket: %w", err)
	}
	fmt.Fprintln(out, tk)
	fmt.Fprintf(diag, "ticket for listener %q on stream %q, valid until %s\n", *listener, *stream,
		time.Unix(expiry.Unix(), 0).UTC().Format(time.RFC3339))
	return nil
}
