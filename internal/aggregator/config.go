// Package aggregator runs the aggregator: a kafka-go consumer group whose workers each own
// the session state of one partition (internal/session) and write its windows to ClickHouse
// (internal/chsink), checkpointing state with the offset it covers.
package aggregator

import (
	"errors"
	"time"

	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/internal/session"
)

// Config is the aggregator's whole configuration.
type Config struct {
	// Listen serves /metrics, /healthz and /readyz.
	Listen     string          `mapstructure:"listen"`
	Kafka      eventlog.Config `mapstructure:"kafka"`
	ClickHouse chconn.Config   `mapstructure:"clickhouse"`
	Session    session.Config  `mapstructure:"session"`
	// Group is the Kafka consumer group; instances with the same group share the partitions.
	Group string `mapstructure:"group"`
	// FlushInterval: rows of closed windows are written at least this often. ClickHouse
	// prefers about one insert per second per table; it also bounds the delay from a window's
	// close to its rows being visible.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// CheckpointInterval: partition state is checkpointed (and the offset committed) this
	// often. A crash replays at most this much from Kafka — at 100 000 events/s a minute is 6M
	// events, a few seconds of work. A checkpoint holds every listener's state, ~225 bytes each:
	// at the night's 1.3M listeners 280 MiB, which every 10 s was 28 MB/s into ClickHouse, more
	// than all the rows (make bench-night). Hence a minute.
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
	// MaxPendingRows stops consuming while this many rows wait for ClickHouse (it is down or
	// slow): lag grows in Kafka instead of memory here.
	MaxPendingRows int `mapstructure:"max_pending_rows"`
	// RawEvents writes every record to events_raw for audits.
	RawEvents bool `mapstructure:"raw_events"`
	// Pprof serves net/http/pprof under /debug/pprof/ on Listen. Off by default: Listen is
	// also what Prometheus scrapes, and profiles reveal the process and cost CPU to anyone who
	// can reach it. make bench-night turns it on to profile under load.
	Pprof bool `mapstructure:"pprof"`
}

// DefaultConfig points at the local servers.
func DefaultConfig() Config {
	ch := chconn.DefaultConfig()
	// Rows go through one committer (commit.go) and checkpoints are spread over the interval,
	// so a few connections are all the aggregator uses at once; and every pooled connection
	// keeps the encoding buffer of the largest insert it ever sent (~9 MB for a 100 000-row
	// insert of raw events): a pool of 8 held 70 MB at 1.3M listeners (make bench-night).
	ch.MaxOpenConns = 4
	return Config{
		Listen:             "127.0.0.1:8081",
		Kafka:              eventlog.DefaultConfig(),
		ClickHouse:         ch,
		Session:            session.DefaultConfig(),
		Group:              "earshot-aggregator",
		FlushInterval:      time.Second,
		CheckpointInterval: time.Minute,
		MaxPendingRows:     1_000_000,
		RawEvents:          true,
	}
}

// Validate names the first key that is wrong.
func (c Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if err := c.ClickHouse.Validate(); err != nil {
		return err
	}
	if err := c.Session.Validate(); err != nil {
		return err
	}
	switch {
	case c.Group == "":
		return errors.New("group must not be empty")
	case c.FlushInterval <= 0:
		return errors.New("flush_interval must be positive")
	case c.CheckpointInterval < c.FlushInterval:
		return errors.New("checkpoint_interval must be at least flush_interval")
	case c.MaxPendingRows <= 0:
		return errors.New("max_pending_rows must be positive")
	}
	return nil
}
