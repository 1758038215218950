// Package testenv gives integration tests the real servers started by the test harness
// (`make test` runs deploy/local/*.sh start first).
//
// A test that needs a server calls Kafka or ClickHouse. When the server is unreachable the
// test fails if CI=true or EARSHOT_REQUIRE_SERVERS=1 (both set by `make test`), and is skipped
// otherwise, so `go test ./...` on a laptop without servers still runs the unit tests.
package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/chconn"
	"github.com/earshot/earshot/schema"
)

// Required reports whether missing servers must fail tests instead of skipping them.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("EARSHOT_REQUIRE_SERVERS") == "1"
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// KafkaAddr is the broker address for tests (EARSHOT_TEST_KAFKA, default 127.0.0.1:9092).
func KafkaAddr() string { return env("EARSHOT_TEST_KAFKA", "127.0.0.1:9092") }

// ClickHouseAddr is the ClickHouse HTTP address for tests
// (EARSHOT_TEST_CLICKHOUSE, default 127.0.0.1:8123).
func ClickHouseAddr() string { return env("EARSHOT_TEST_CLICKHOUSE", "127.0.0.1:8123") }

var (
	kafkaOnce sync.Once
	kafkaErr  error
	chOnce    sync.Once
	chErr     error
)

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (CI=true or EARSHOT_REQUIRE_SERVERS=1) but unreachable: %v; run `make up`", what, err)
	}
	t.Skipf("%s unreachable (%v); run `make up` or `make test`", what, err)
}

// Kafka returns the address of a broker that answered a metadata request, or ends the test.
func Kafka(t testing.TB) string {
	t.Helper()
	kafkaOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := &kafka.Client{Addr: kafka.TCP(KafkaAddr()), Timeout: 3 * time.Second}
		_, kafkaErr = c.Metadata(ctx, &kafka.MetadataRequest{})
	})
	if kafkaErr != nil {
		unavailable(t, "Kafka at "+KafkaAddr(), kafkaErr)
	}
	return KafkaAddr()
}

// ClickHouse returns the address of a ClickHouse HTTP endpoint that answered /ping,
// or ends the test.
func ClickHouse(t testing.TB) string {
	t.Helper()
	chOnce.Do(func() {
		c := http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get("http://" + ClickHouseAddr() + "/ping")
		if err != nil {
			chErr = err
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			chErr = fmt.Errorf("ping: HTTP %d", resp.StatusCode)
		}
	})
	if chErr != nil {
		unavailable(t, "ClickHouse at "+ClickHouseAddr(), chErr)
	}
	return ClickHouseAddr()
}

// Name returns a name unique to this test run, safe as a Kafka topic, group or
// ClickHouse identifier.
func Name(t testing.TB, prefix string) string {
	t.Helper()
	s := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	if len(s) > 40 {
		s = s[:40]
	}
	return fmt.Sprintf("%s_%s_%d", prefix, s, time.Now().UnixNano())
}

// ClickHouseConfig returns a connection config for a fresh database of this test's own,
// dropped when the test ends.
func ClickHouseConfig(t testing.TB) chconn.Config {
	t.Helper()
	cfg := chconn.DefaultConfig()
	cfg.Addr = ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.ToLower(Name(t, "earshot"))
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		admin.Close()
	})
	cfg.Database = db
	return cfg
}

// ClickHouseDB opens a connection to a fresh database of this test's own.
func ClickHouseDB(t testing.TB) driver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := chconn.Open(ctx, ClickHouseConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// MigratedClickHouseDB is ClickHouseDB with earshot's schema applied (schema.Apply).
func MigratedClickHouseDB(t testing.TB) driver.Conn {
	t.Helper()
	conn := ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := schema.Apply(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return conn
}
