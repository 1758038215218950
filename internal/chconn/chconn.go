// Package chconn opens connections to ClickHouse from configuration.
//
// The product never knows whether it talks to a ClickHouse server or to the development
// stand-in (chDB behind the HTTP adapter in deploy/local): protocol and address come from
// config, and every query goes through clickhouse-go/v2.
package chconn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/config"
)

// Config says where ClickHouse is and how to log in.
type Config struct {
	// Addr is host:port. 8123 is ClickHouse's HTTP port, 9000 its native port.
	Addr string `mapstructure:"addr"`
	// Protocol is "http" or "native".
	Protocol string `mapstructure:"protocol"`
	// Database holds earshot's tables.
	Database string `mapstructure:"database"`
	Username string `mapstructure:"username"`
	// Password comes from config or EARSHOT_CLICKHOUSE_PASSWORD, never from code.
	Password config.Secret `mapstructure:"password"`
	// DialTimeout bounds connection set-up; 5 s covers a loaded server without hanging start-up.
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	// ReadTimeout bounds one query's answer; 60 s leaves room for rollups over a long stream.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// MaxOpenConns: 8 parallel queries are plenty for sinks and reports on one host.
	MaxOpenConns int `mapstructure:"max_open_conns"`
}

// DefaultConfig points at the local development engine started by `make up`.
func DefaultConfig() Config {
	return Config{
		Addr:         "127.0.0.1:8123",
		Protocol:     "http",
		Database:     "default",
		Username:     "default",
		DialTimeout:  5 * time.Second,
		ReadTimeout:  60 * time.Second,
		MaxOpenConns: 8,
	}
}

// Validate names the first key that is wrong.
func (c Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("clickhouse.addr must not be empty")
	case c.Protocol != "http" && c.Protocol != "native":
		return fmt.Errorf("clickhouse.protocol must be http or native, got %q", c.Protocol)
	case c.Database == "":
		return errors.New("clickhouse.database must not be empty")
	case c.DialTimeout <= 0:
		return errors.New("clickhouse.dial_timeout must be positive")
	case c.ReadTimeout <= 0:
		return errors.New("clickhouse.read_timeout must be positive")
	case c.MaxOpenConns <= 0:
		return errors.New("clickhouse.max_open_conns must be positive")
	}
	return nil
}

// Options translates the config into clickhouse-go options.
func (c Config) Options() *clickhouse.Options {
	proto := clickhouse.Native
	if c.Protocol == "http" {
		proto = clickhouse.HTTP
	}
	return &clickhouse.Options{
		Addr:         []string{c.Addr},
		Protocol:     proto,
		Auth:         clickhouse.Auth{Database: c.Database, Username: c.Username, Password: c.Password.Value()},
		DialTimeout:  c.DialTimeout,
		ReadTimeout:  c.ReadTimeout,
		MaxOpenConns: c.MaxOpenConns,
		MaxIdleConns: c.MaxOpenConns,
	}
}

// Open connects and pings.
func Open(ctx context.Context, c Config) (driver.Conn, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(c.Options())
	if err != nil {
		return nil, fmt.Errorf("cannot open clickhouse %s: %w", c.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cannot ping clickhouse %s: %w", c.Addr, err)
	}
	return conn, nil
}
