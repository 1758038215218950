package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Broker is a Kafka broker of the test's own (deploy/local/kafka.sh with its own data
// directory and ports), for tests that stop and restart a broker without disturbing the
// shared one other tests use.
type Broker struct {
	t    testing.TB
	dir  string
	port int
}

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// ScratchBroker starts a broker on 127.0.0.1:port (controller on port+1) and stops it when the
// test ends. It needs the shared broker's jars, so it ends the test like Kafka does when the
// shared broker is missing.
func ScratchBroker(t testing.TB, port int) *Broker {
	t.Helper()
	Kafka(t)
	b := &Broker{t: t, dir: t.TempDir(), port: port}
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

// Addr is the broker's address.
func (b *Broker) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

func (b *Broker) run(action string) {
	b.t.Helper()
	runScript(b.t, "kafka.sh", action,
		"EARSHOT_KAFKA_DIR="+b.dir,
		fmt.Sprintf("EARSHOT_KAFKA_PORT=%d", b.port),
		fmt.Sprintf("EARSHOT_KAFKA_CONTROLLER_PORT=%d", b.port+1),
		"EARSHOT_KAFKA_HEAP=256m")
}

// runScript runs deploy/local/<script> <action> with extra environment, ending the test if it
// fails.
func runScript(t testing.TB, script, action string, env ...string) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(RepoRoot(), "deploy", "local", script), action)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", script, action, err, out)
	}
}

// Start starts (or restarts) the broker and waits until it answers metadata requests.
func (b *Broker) Start() { b.t.Helper(); b.run("start") }

// Stop stops the broker (SIGTERM, then SIGKILL after 30 s).
func (b *Broker) Stop() { b.t.Helper(); b.run("stop") }

// Engine is a ClickHouse engine of the test's own (deploy/local/clickhouse.sh with its own data
// directory and port), for tests that stop and restart ClickHouse.
type Engine struct {
	t    testing.TB
	dir  string
	port int
}

// ScratchClickHouse starts an engine on 127.0.0.1:port and stops it when the test ends.
func ScratchClickHouse(t testing.TB, port int) *Engine {
	t.Helper()
	ClickHouse(t)
	e := &Engine{t: t, dir: t.TempDir(), port: port}
	e.Start()
	t.Cleanup(e.Stop)
	return e
}

// Addr is the engine's HTTP address.
func (e *Engine) Addr() string { return fmt.Sprintf("127.0.0.1:%d", e.port) }

func (e *Engine) run(action string) {
	e.t.Helper()
	runScript(e.t, "clickhouse.sh", action, "EARSHOT_CLICKHOUSE_DIR="+e.dir, fmt.Sprintf("EARSHOT_CLICKHOUSE_PORT=%d", e.port))
}

// Start starts (or restarts) the engine and waits until it answers.
func (e *Engine) Start() { e.t.Helper(); e.run("start") }

// Stop stops the engine.
func (e *Engine) Stop() { e.t.Helper(); e.run("stop") }
