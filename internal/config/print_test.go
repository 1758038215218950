package config

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

type printed struct {
	Listen  string        `mapstructure:"listen"`
	Timeout time.Duration `mapstructure:"timeout"`
	Key     Secret        `mapstructure:"key"`
	Empty   Secret        `mapstructure:"empty"`
	Tokens  []struct {
		Name  string `mapstructure:"name"`
		Token Secret `mapstructure:"token"`
	} `mapstructure:"tokens"`
	Nested struct {
		Until time.Time `mapstructure:"until"`
	} `mapstructure:"nested"`
}

// TestPrintConfigHidesSecrets: --print-config shows every key as a config file names it, with
// durations as in a file and secrets as <secret> (an unset one as ""), and never a secret.
func TestPrintConfigHidesSecrets(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	Flags(fs)
	PrintFlag(fs)
	cfg := printed{Listen: "127.0.0.1:1", Timeout: 10 * time.Second, Key: "hash-key-hash-key-hash-key-12345"}
	cfg.Tokens = append(cfg.Tokens, struct {
		Name  string `mapstructure:"name"`
		Token Secret `mapstructure:"token"`
	}{"player", "player-token-0123456789"})
	t.Setenv("EARSHOT_LISTEN", "127.0.0.1:2")
	if err := Load(fs, &cfg); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if ok, err := PrintIfAsked(fs, &out, &cfg); ok || err != nil {
		t.Fatalf("printed without --print-config: %v %v", ok, err)
	}
	fs.Set("print-config", "true")
	if ok, err := PrintIfAsked(fs, &out, &cfg); !ok || err != nil {
		t.Fatalf("not printed: %v %v", ok, err)
	}
	text := out.String()
	if strings.Contains(text, "hash-key") || strings.Contains(text, "player-token") {
		t.Fatalf("a secret was printed:\n%s", text)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, text)
	}
	tokens := got["tokens"].([]any)
	if got["listen"] != "127.0.0.1:2" || got["timeout"] != "10s" || got["key"] != "<secret>" || got["empty"] != "" ||
		tokens[0].(map[string]any)["token"] != "<secret>" || tokens[0].(map[string]any)["name"] != "player" ||
		got["nested"].(map[string]any)["until"] != "" {
		t.Fatalf("printed:\n%s", text)
	}
}
