// Package scenario reads simulation scenarios from files (scenarios/*.yaml): a stream's
// audience and delivery as sim.Scenario, the public claims made about it, and the sources the
// numbers come from. A file is the model of one night, reviewable without reading Go; --scale
// shrinks it to a size a laptop can replay, claims scaled alike so that verdicts keep their
// meaning.
package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/sim"
)

// File is a scenario file as written.
type File struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Sources     []string `yaml:"sources"`
	StreamID    string   `yaml:"stream_id"`
	Start       string   `yaml:"start"` // RFC 3339
	AudioDelay  string   `yaml:"audio_delay"`
	Duration    string   `yaml:"duration"`
	// Listeners at scale 1.0: the night at full size.
	Listeners     int     `yaml:"listeners"`
	FailRate      float64 `yaml:"fail_rate"`
	MuteRate      float64 `yaml:"mute_rate"`
	VanishRate    float64 `yaml:"vanish_rate"`
	DuplicateRate float64 `yaml:"duplicate_rate"`
	DuplicateBy   string  `yaml:"duplicate_by"`
	LateRate      float64 `yaml:"late_rate"`
	LateBy        string  `yaml:"late_by"`
	Heartbeat     string  `yaml:"heartbeat"`
	// Stay bounds how long a listener stays: whole minutes in [min, max) (default 2m, 62m).
	Stay struct {
		Min string `yaml:"min"`
		Max string `yaml:"max"`
	} `yaml:"stay"`
	Seed      uint64 `yaml:"seed"`
	Displayed struct {
		Series string  `yaml:"series"` // joined | connected
		Factor float64 `yaml:"factor"`
		Every  string  `yaml:"every"`
	} `yaml:"displayed"`
	Claims []Claim `yaml:"claims"`
}

// Claim is a public claim about the night; claimed_value is at full scale.
type Claim struct {
	ID           string  `yaml:"claim_id"`
	Claimant     string  `yaml:"claimant"`
	Quote        string  `yaml:"quote"`
	ClaimedValue float64 `yaml:"claimed_value"`
	Metric       string  `yaml:"metric"`
	SaidAt       string  `yaml:"said_at"`
	SourceURL    string  `yaml:"source_url"`
}

// Scenario is a file ready to simulate at one scale.
type Scenario struct {
	Name, Description string
	Sources           []string
	Sim               sim.Scenario
	// Claims carry the stream's id and, like the audience, are scaled: "60 million" at scale
	// 1/600 is 100 000, so the verdict compares like with like.
	Claims []claims.Claim
	Scale  float64
}

// Load reads path and builds its scenario at scale (1: full size) with seed (0: the file's).
// Errors name the file and the field.
func Load(path string, scale float64, seed uint64) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt key is an error, not a default
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sc, err := f.build(scale, seed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sc, nil
}

func (f *File) build(scale float64, seed uint64) (*Scenario, error) {
	var errs []error
	bad := func(field, format string, a ...any) { errs = append(errs, fmt.Errorf(field+": "+format, a...)) }
	if !(scale > 0) || math.IsInf(scale, 0) {
		bad("scale", "%v: want a positive number (1 is full size)", scale)
		scale = 1
	}
	dur := func(field, s string, def time.Duration) time.Duration {
		if s == "" {
			return def
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			bad(field, "%q is not a duration such as 45m", s)
		}
		return d
	}
	rate := func(field string, v float64) float64 {
		if v < 0 || v > 1 || math.IsNaN(v) {
			bad(field, "%v: want a share between 0 and 1", v)
		}
		return v
	}
	start, err := time.Parse(time.RFC3339, f.Start)
	if err != nil {
		bad("start", "%q is not an RFC 3339 time", f.Start)
	}
	if f.StreamID == "" {
		bad("stream_id", "required")
	}
	sc := sim.Scenario{
		StreamID: f.StreamID, Start: start.UTC(),
		AudioDelay: dur("audio_delay", f.AudioDelay, 0), Duration: dur("duration", f.Duration, 0),
		Listeners: int(math.Round(float64(f.Listeners) * scale)),
		FailRate:  rate("fail_rate", f.FailRate), MuteRate: rate("mute_rate", f.MuteRate), VanishRate: rate("vanish_rate", f.VanishRate),
		DuplicateRate: rate("duplicate_rate", f.DuplicateRate), DuplicateBy: dur("duplicate_by", f.DuplicateBy, 0),
		LateRate: rate("late_rate", f.LateRate), LateBy: dur("late_by", f.LateBy, 0),
		DisplayedFactor: f.Displayed.Factor, DisplayedSeries: f.Displayed.Series, DisplayedEvery: dur("displayed.every", f.Displayed.Every, 0),
		Heartbeat: dur("heartbeat", f.Heartbeat, 10*time.Second), Seed: f.Seed,
		StayMin: dur("stay.min", f.Stay.Min, 2*time.Minute), StayMax: dur("stay.max", f.Stay.Max, 62*time.Minute),
	}
	if seed != 0 {
		sc.Seed = seed
	}
	switch {
	case sc.Duration <= 0:
		bad("duration", "required, e.g. 75m")
	case sc.AudioDelay >= sc.Duration:
		bad("audio_delay", "%s is not inside the %s simulated", sc.AudioDelay, sc.Duration)
	}
	if f.Listeners <= 0 {
		bad("listeners", "required: the audience at full size")
	} else if sc.Listeners < 1 {
		bad("scale", "%v leaves no listener of %d", scale, f.Listeners)
	}
	if sc.StayMin < time.Minute || sc.StayMax <= sc.StayMin || sc.StayMin%time.Minute != 0 || sc.StayMax%time.Minute != 0 {
		bad("stay", "min %s, max %s: want whole minutes, min ≥ 1m and max > min", sc.StayMin, sc.StayMax)
	}
	if sc.Heartbeat <= 0 {
		bad("heartbeat", "must be positive")
	}
	switch sc.DisplayedSeries {
	case "", sim.DisplayedJoined, sim.DisplayedConnected:
	default:
		bad("displayed.series", "%q: want joined or connected", sc.DisplayedSeries)
	}
	if sc.DisplayedFactor < 0 || math.IsNaN(sc.DisplayedFactor) {
		bad("displayed.factor", "%v: want ≥ 0", sc.DisplayedFactor)
	}
	out := &Scenario{Name: f.Name, Description: f.Description, Sources: f.Sources, Sim: sc, Scale: scale}
	for i, c := range f.Claims {
		cl := claims.Claim{ID: c.ID, StreamID: f.StreamID, Claimant: c.Claimant, Quote: c.Quote,
			ClaimedValue: math.Round(c.ClaimedValue * scale), Metric: c.Metric, SourceURL: c.SourceURL}
		if scale != 1 && cl.Claimant != "" {
			cl.Claimant += fmt.Sprintf(" (scaled 1:%s for the simulation)", strconv.FormatFloat(1/scale, 'g', 4, 64))
		}
		if c.SaidAt != "" {
			if cl.SaidAt, err = time.Parse(time.RFC3339, c.SaidAt); err != nil {
				bad(fmt.Sprintf("claims[%d].said_at", i), "%q is not an RFC 3339 time", c.SaidAt)
			}
		}
		if err := cl.Validate(); err != nil {
			bad(fmt.Sprintf("claims[%d]", i), "%v", err)
		}
		out.Claims = append(out.Claims, cl)
	}
	if len(f.Sources) == 0 {
		bad("sources", "required: where the scenario's numbers come from")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
