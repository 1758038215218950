package config

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// PrintFlag registers --print-config on fs (a service's flags; the CLI has `earshot config`).
func PrintFlag(fs *pflag.FlagSet) {
	fs.Bool("print-config", false, "print the configuration in effect (secrets as <secret>) and exit")
}

// Print writes cfg (a pointer to a loaded Config) as PrintIfAsked does.
func Print(w io.Writer, cfg any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "<secret>", not "\u003csecret\u003e"
	if err := enc.Encode(Effective(cfg)); err != nil {
		return fmt.Errorf("cannot print the config: %w", err)
	}
	return nil
}

// PrintIfAsked writes cfg (a pointer to a loaded Config) to w when --print-config was given,
// and reports whether it did: the binary then exits. It shows the configuration in effect after
// every source (defaults, file, environment, --set), under the keys a config file uses, with
// durations as in a file ("10s") and every Secret as "<secret>".
func PrintIfAsked(fs *pflag.FlagSet, w io.Writer, cfg any) (bool, error) {
	if ok, _ := fs.GetBool("print-config"); !ok {
		return false, nil
	}
	return true, Print(w, cfg)
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	timeType     = reflect.TypeOf(time.Time{})
	secretType   = reflect.TypeOf(Secret(""))
)

// Effective is cfg as plain values under its mapstructure keys, secrets redacted.
func Effective(cfg any) any { return effective(reflect.ValueOf(cfg)) }

func effective(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Type() {
	case durationType:
		return time.Duration(v.Int()).String()
	case timeType:
		if t := v.Interface().(time.Time); !t.IsZero() {
			return t.Format(time.RFC3339)
		}
		return ""
	case secretType:
		return Secret(v.String()).String()
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			key, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if key == "-" {
				continue
			}
			if key == "" {
				key = strings.ToLower(f.Name)
			}
			out[key] = effective(v.Field(i))
		}
		return out
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = effective(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = effective(v.MapIndex(k))
		}
		return out
	}
	return v.Interface()
}
