package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

type sub struct {
	Addr    string        `mapstructure:"addr"`
	Timeout time.Duration `mapstructure:"timeout"`
}

type item struct {
	Name    string   `mapstructure:"name"`
	Streams []string `mapstructure:"streams"`
}

type testConfig struct {
	Listen string `mapstructure:"listen"`
	Sub    sub    `mapstructure:"sub"`
	Items  []item `mapstructure:"items"`
	Max    int    `mapstructure:"max"`
}

func load(t *testing.T, args []string) (testConfig, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig{Listen: ":1", Sub: sub{Addr: "a", Timeout: time.Second}, Max: 3}
	err := Load(fs, &cfg)
	return cfg, err
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("listen: \":2\"\nsub:\n  addr: from-file\nitems:\n  - name: x\n    streams: [s1, s2]\n"), 0o644)
	t.Setenv("EARSHOT_SUB_TIMEOUT", "45s")
	t.Setenv("EARSHOT_MAX", "7")
	cfg, err := load(t, []string{"--config", file, "--set", "max=9"})
	if err != nil {
		t.Fatal(err)
	}
	// Defaults < file < environment < --set.
	if cfg.Listen != ":2" || cfg.Sub.Addr != "from-file" || cfg.Sub.Timeout != 45*time.Second || cfg.Max != 9 {
		t.Fatalf("%+v", cfg)
	}
	if len(cfg.Items) != 1 || cfg.Items[0].Name != "x" || strings.Join(cfg.Items[0].Streams, ",") != "s1,s2" {
		t.Fatalf("items %+v", cfg.Items)
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("listne: typo\n"), 0o644)
	if _, err := load(t, []string{"--config", file}); err == nil || !strings.Contains(err.Error(), "listne") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := load(t, []string{"--set", "novalue"}); err == nil {
		t.Fatal("--set without = accepted")
	}
	if _, err := load(t, []string{"--config", filepath.Join(dir, "missing.yaml")}); err == nil {
		t.Fatal("missing config file accepted")
	}
	t.Setenv("EARSHOT_SUB_TIMEOUT", "soon")
	if _, err := load(t, nil); err == nil {
		t.Fatal("bad duration accepted")
	}
}
