package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/collector"
	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/internal/render"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/result"
	"github.com/earshot/earshot/internal/scenario"
	"github.com/earshot/earshot/internal/sim"
	"github.com/earshot/earshot/pkg/client"
)

func simulateCommand() *cobra.Command {
	var (
		collectors              []string
		token, claimsFile       string
		scenarioFile, truthFile string
		listeners, parallel     int
		withReport, toKafka     bool
		wait                    time.Duration
		scale, speed            float64
		seed                    uint64
	)
	c := &cobra.Command{
		Use:   "simulate [flags]",
		Short: "Send a simulated live stream through a collector",
		Long: `simulate generates a stream from a scenario file (scenarios/*.yaml: the audience, its delivery,
the platform's counter, the claims made about it, with sources) at --scale, and sends it through
a collector (several: --collector a,b sends round robin); it prints the truth computed from the
simulation plans (--truth writes every metric per minute and in total as JSON). Without
--scenario it plays a small-scale model of the 12 Aug 2024 Space with --listeners. With --report
it stores the scenario's claims, waits for the aggregator to make the stream final and prints
the report. --speed paces the events in stream time (60: a minute a second); 0 sends as fast as
the collector answers.

The stream is generated as it is sent, so the night at full size (--scale 1, a million
listeners and more) needs a few hundred MB. --to-kafka skips HTTP: the collector's own pipeline
(validation, pseudonymization with hash.key, which must be the collectors') writes the events
to the configured Kafka topic, as a trusted-time platform token would send them — with the
collector's default limits, not a deployment's (listener_auth, tickets and per-request limits
of the running collectors do not apply).`,
		Example: `  EARSHOT_SIM_TOKEN=... earshot simulate --scenario scenarios/x-spaces-2024-08-12.yaml --scale 0.0016 --report
  EARSHOT_SIM_TOKEN=... earshot simulate --scenario scenarios/smoke.yaml --truth smoke-truth.json
  EARSHOT_HASH_KEY=... earshot simulate --scenario scenarios/x-spaces-2024-08-12-peak.yaml --to-kafka --speed 1
  EARSHOT_SIM_TOKEN=... earshot simulate --listeners 2000 --report --claims testdata/claims/x-space-2024-08-12-sim.json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			// The environment is read here, not as the flag's default: --help prints defaults.
			if !fs.Changed("token") {
				token = os.Getenv("EARSHOT_SIM_TOKEN")
			}
			switch {
			case toKafka && fs.Changed("token"):
				return usagef("--to-kafka writes to Kafka without a collector: it takes no --token")
			case token == "" && !toKafka:
				return usagef("--token (or EARSHOT_SIM_TOKEN) is required")
			case toKafka && fs.Changed("collector"):
				return usagef("--to-kafka writes to Kafka without a collector; drop --collector")
			case scenarioFile == "" && fs.Changed("scale"):
				return usagef("--scale applies to --scenario only; without it, size the built-in model with --listeners")
			case scenarioFile != "" && fs.Changed("listeners"):
				return usagef("--listeners applies without --scenario only; size a scenario with --scale")
			case !(speed >= 0) || math.IsInf(speed, 0):
				return usagef("--speed %v: want stream seconds per second, ≥ 0 (0: as fast as the collector answers)", speed)
			case parallel < 1:
				return usagef("--parallel %d: want at least 1 request in flight", parallel)
			case len(collectors) == 0:
				return usagef("--collector: want at least one collector URL")
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
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			senders, closeSenders, err := simSenders(cfg, collectors, token, toKafka)
			if err != nil {
				return err
			}
			defer closeSenders()
			g := sim.NewGenerator(simSc)
			truth := sim.Oracle(g.Skeleton())
			sc := simSc
			if truthFile != "" {
				if err := writeTruth(truthFile, scenario.TruthOf(g.Skeleton(), truth, scale)); err != nil {
					return err
				}
			}
			via := fmt.Sprintf("%d collector(s)", len(senders))
			if toKafka {
				via = "Kafka topic " + cfg.Kafka.Topic
			}
			fmt.Fprintf(out, "simulating %s: %d listeners, audio %s late, through %s\n", sc.StreamID, sc.Listeners, sc.AudioDelay, via)
			start := time.Now()
			res, err := sim.SendBatches(ctx, senders, sc.StreamID, sc.Heartbeat, g.All(), parallel, speed)
			if err != nil {
				return fmt.Errorf("after %d requests: %w", res.Requests, err)
			}
			el := time.Since(start)
			fmt.Fprintf(out, "sent: %d events (%d accepted, retried batches included) in %d requests in %s (%.0f events/s), %d client retries\n",
				g.Events(), res.Accepted, res.Requests, el.Round(time.Millisecond), float64(res.Accepted)/el.Seconds(), res.Retries)
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
	fs.StringSliceVar(&collectors, "collector", []string{"http://127.0.0.1:8080"}, "collector base URL; several (a,b) are sent to round robin")
	fs.StringVar(&token, "token", "", "ingest token with trusted_time (the simulation replays 2024 timestamps) and platform (it sends the displayed counter); default $EARSHOT_SIM_TOKEN")
	fs.BoolVar(&toKafka, "to-kafka", false, "write to the configured Kafka topic with the collector's pipeline, without HTTP (needs hash.key, e.g. EARSHOT_HASH_KEY)")
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

// simSenders are the collectors to send through, or the collector's pipeline writing to Kafka
// directly (toKafka), and what closes them.
func simSenders(cfg Config, urls []string, token string, toKafka bool) ([]sim.Sender, func(), error) {
	if toKafka {
		ccfg := collector.DefaultConfig()
		ccfg.Hash = cfg.Hash
		if err := eventlog.EnsureTopic(context.Background(), cfg.Kafka); err != nil {
			return nil, nil, err
		}
		d, err := collector.NewDirect(ccfg, cfg.Kafka)
		if err != nil {
			return nil, nil, fmt.Errorf("--to-kafka: %w", err)
		}
		return []sim.Sender{d}, func() { d.Close() }, nil
	}
	var out []sim.Sender
	for _, u := range urls {
		out = append(out, client.New(u, token))
	}
	return out, func() {}, nil
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
