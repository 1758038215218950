package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestSecretNeverPrints(t *testing.T) {
	const value = "do-not-print-0123456789abcdef0123456789"
	type keys struct {
		Name string
		Key  Secret
	}
	cfg := keys{Name: "k", Key: Secret(value)}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%10.3s"} {
		out = append(out, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, cfg.Key), fmt.Sprintf(verb, &cfg))
	}
	j, _ := json.Marshal(cfg)
	out = append(out, string(j), fmt.Sprint(cfg.Key), cfg.Key.String())
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg, "key", cfg.Key)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "key", cfg.Key)
	out = append(out, logs.String())
	for _, s := range out {
		if strings.Contains(s, "do-not-print") || strings.Contains(s, fmt.Sprintf("%x", value[:8])) {
			t.Fatalf("secret printed: %s", s)
		}
	}
	var back map[string]string
	json.Unmarshal(j, &back)
	if !strings.Contains(fmt.Sprintf("%+v", cfg), "Key:<secret>") || back["Key"] != "<secret>" {
		t.Fatalf("redaction not shown: %+v %s", cfg, j)
	}
	if cfg.Key.Value() != value || fmt.Sprint(Secret("")) != "" {
		t.Fatal("Value or the empty secret")
	}
}

func TestSecretLoads(t *testing.T) {
	type withSecret struct {
		Auth struct {
			Key    Secret `mapstructure:"key"`
			Other  Secret `mapstructure:"other"`
			KeyEnv string `mapstructure:"key_env"`
		} `mapstructure:"auth"`
	}
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("auth:\n  key: from-file\n"), 0o644)
	t.Setenv("EARSHOT_AUTH_OTHER", "from-env")
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	Flags(fs)
	fs.Parse([]string{"--config", file})
	var cfg withSecret
	if err := Load(fs, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Auth.Key.Value() != "from-file" || cfg.Auth.Other.Value() != "from-env" {
		t.Fatalf("loaded %q %q", cfg.Auth.Key.Value(), cfg.Auth.Other.Value())
	}
}
