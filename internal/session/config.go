package session

import (
	"errors"
	"time"

	"github.com/earshot/earshot/pkg/event"
)

// Config holds the rules' thresholds and the time model's durations. Defaults are the SPEC's.
type Config struct {
	// SessionTimeout ends a session this long after the listener's last event (SPEC: 60 s).
	SessionTimeout time.Duration `mapstructure:"session_timeout"`
	// HearingMin is the unmuted audio a listener must render in a minute to count as hearing
	// (SPEC: 2 000 ms, the MRC audible-impression rule). At most a minute.
	HearingMin time.Duration `mapstructure:"hearing_min"`
	// Qualified is the unmuted audio that makes a session qualified (SPEC: 60 s, IAB/Triton).
	Qualified time.Duration `mapstructure:"qualified"`
	// AQHMin is the unmuted audio in a quarter hour that makes an AQH person (Nielsen: 5 min).
	// At most a quarter hour.
	AQHMin time.Duration `mapstructure:"aqh_min"`
	// StartFailureAfter: a session with no play this long after it started is a start failure.
	StartFailureAfter time.Duration `mapstructure:"start_failure_after"`
	// Horizon is the correction horizon (SPEC): an event beginning up to this long before its
	// stream's clock is applied exactly as if it had arrived in order; older ones are too late.
	// Minutes become final when the horizon has passed them. 30 min covers players buffering
	// through an outage and retrying; imports of recorded streams may set hours or days, which
	// costs memory: each listener keeps its events of the last horizon (docs/time.md).
	Horizon time.Duration `mapstructure:"horizon"`
	// Lookback: a minute's first (provisional) row is written when its stream's clock has
	// passed its end by this much. Players beat every 10 s and report the audio before the beat,
	// so 15 s lets most of a minute arrive before it is first shown; the rest are corrections.
	Lookback time.Duration `mapstructure:"lookback"`
	// ReplayIdle closes a trusted-time stream (an import or replay) that received nothing for
	// this long of ingest time. As long as the horizon: a replay may pause that long and resume
	// without losing anything. End replays explicitly (an end event, `earshot streams close`)
	// to make their figures final at once.
	ReplayIdle time.Duration `mapstructure:"replay_idle"`
}

// DefaultConfig returns the SPEC's rules.
func DefaultConfig() Config {
	return Config{
		SessionTimeout:    60 * time.Second,
		HearingMin:        2 * time.Second,
		Qualified:         60 * time.Second,
		AQHMin:            5 * time.Minute,
		StartFailureAfter: 30 * time.Second,
		Horizon:           30 * time.Minute,
		Lookback:          15 * time.Second,
		ReplayIdle:        30 * time.Minute,
	}
}

// maxHorizon bounds the horizon: listener times are milliseconds in 32 bits (49 days) from a
// base at least a horizon before the stream's open minutes, which moves forward every 8 days.
const maxHorizon = 14 * 24 * time.Hour

// Validate names the first key that is wrong.
func (c Config) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"session_timeout", c.SessionTimeout}, {"hearing_min", c.HearingMin}, {"qualified", c.Qualified},
		{"aqh_min", c.AQHMin}, {"start_failure_after", c.StartFailureAfter}, {"horizon", c.Horizon},
		{"lookback", c.Lookback}, {"replay_idle", c.ReplayIdle}} {
		if d.v <= 0 {
			return errors.New("session." + d.name + " must be positive")
		}
	}
	longest := time.Duration(event.MaxIntervalMS) * time.Millisecond
	switch {
	case c.HearingMin > time.Minute:
		return errors.New("session.hearing_min must be at most 1m (it is a share of one minute)")
	case c.AQHMin > 15*time.Minute:
		return errors.New("session.aqh_min must be at most 15m (it is a share of one quarter hour)")
	case c.Lookback >= c.Horizon:
		return errors.New("session.lookback must be shorter than session.horizon")
	case c.Horizon < longest+c.SessionTimeout:
		return errors.New("session.horizon must cover the longest heartbeat (10m) and session.session_timeout")
	case c.Horizon > maxHorizon:
		return errors.New("session.horizon must be at most 336h (listener times are 32-bit milliseconds)")
	}
	return nil
}
