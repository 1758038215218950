// Package config loads a binary's typed Config with viper: defaults from the Config value the
// binary passes in, then a YAML/JSON/TOML file (--config), then EARSHOT_* environment variables,
// then command-line flags (--set key=value). Later sources win.
package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every environment variable: clickhouse.password is
// EARSHOT_CLICKHOUSE_PASSWORD.
const EnvPrefix = "EARSHOT"

// Flags registers --config and --set on fs.
func Flags(fs *pflag.FlagSet) {
	fs.String("config", "", "config file (YAML, JSON or TOML)")
	fs.StringArray("set", nil, "override one key, e.g. --set kafka.topic=events (repeatable)")
}

// Load fills cfg (a pointer to a struct holding the defaults) from the sources above.
func Load(fs *pflag.FlagSet, cfg any) error {
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	setDefaults(v, "", reflect.ValueOf(cfg).Elem())

	path, _ := fs.GetString("config")
	if path == "" {
		path = os.Getenv(EnvPrefix + "_CONFIG")
	}
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("cannot read config file %s: %w", path, err)
		}
	}
	sets, _ := fs.GetStringArray("set")
	for _, kv := range sets {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--set %q: want key=value", kv)
		}
		v.Set(k, val)
	}
	err := v.Unmarshal(cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToTimeHookFunc(time.RFC3339),
			mapstructure.StringToSliceHookFunc(","),
		)
	})
	if err != nil {
		return fmt.Errorf("cannot decode config: %w", err)
	}
	return nil
}

// setDefaults registers every leaf key of the defaults struct, so that environment variables
// are seen for keys that appear in no file.
func setDefaults(v *viper.Viper, prefix string, val reflect.Value) {
	t := val.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		key := prefix + tag
		fv := val.Field(i)
		if fv.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			setDefaults(v, key+".", fv)
			continue
		}
		v.SetDefault(key, fv.Interface())
	}
}
