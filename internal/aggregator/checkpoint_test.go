package aggregator

import (
	"testing"
	"time"
)

// TestCheckpointsAreSpread checks that the partitions' first checkpoints fall at distinct
// points evenly spread over the interval: 12 partitions over a minute, one every 5 s.
func TestCheckpointsAreSpread(t *testing.T) {
	var got []time.Duration
	for p := range uint16(12) {
		got = append(got, checkpointStagger(p, 12, time.Minute))
	}
	for i, d := range got {
		if want := time.Duration(i) * 5 * time.Second; d != want {
			t.Errorf("partition %d: offset %s, want %s", i, d, want)
		}
	}
	if d := checkpointStagger(13, 12, time.Minute); d != 5*time.Second {
		t.Errorf("partition 13 of 12 (a topic grown since): %s, want 5s", d)
	}
	if d := checkpointStagger(3, 0, time.Minute); d != 0 {
		t.Errorf("no partition count: %s, want 0", d)
	}
}
