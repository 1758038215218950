package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// stateVersion is the format of the state file; a file of another version is refused rather
// than misread.
const stateVersion = 1

// state is what the state file records: how far a replay got, as the low-water mark of the
// acknowledged input (ledger), and what the prefix before it held, so that a resumed run can
// close its streams and report the counts of the whole replay.
type state struct {
	Version int `json:"version"`
	// Input is the path the replay was started with (informational); Head identifies the file.
	Input string `json:"input"`
	Head  string `json:"head_sha256"`
	// Offset is the uncompressed offset of the first line not acknowledged in order, the start
	// of line Line+1.
	Offset int64 `json:"offset"`
	Line   int64 `json:"line"`
	// Totals count the lines before Offset.
	Totals tally `json:"totals"`
	// Streams maps each stream of the lines before Offset to its newest ts (unix ms), the time
	// of its end event.
	Streams map[string]int64 `json:"streams"`
	// Closed lists, sorted, the streams whose end the collector accepted.
	Closed  []string  `json:"closed,omitempty"`
	Updated time.Time `json:"updated"`
}

// loadState reads the state at path for the input whose head is head. Without a state file the
// replay starts from the beginning (resumed false).
func loadState(path, head string) (st state, resumed bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return state{Version: stateVersion, Head: head, Streams: map[string]int64{}}, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("cannot read the replay state: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, false, fmt.Errorf("cannot read the replay state %s: %w", path, err)
	}
	switch {
	case st.Version != stateVersion:
		return st, false, fmt.Errorf("cannot read the replay state %s: version %d, want %d", path, st.Version, stateVersion)
	case st.Head != head:
		return st, false, fmt.Errorf("%w: %s was written for another file (%s); delete it to replay this one from the start",
			ErrStateMismatch, path, st.Input)
	case st.Offset < 0 || st.Line < 0:
		return st, false, fmt.Errorf("%w: %s holds a negative offset", ErrStateMismatch, path)
	}
	if st.Streams == nil {
		st.Streams = map[string]int64{}
	}
	slices.Sort(st.Closed)
	return st, true, nil
}

// saveState writes st to path atomically: a temporary file in the same directory, synced, then
// renamed over path, so that a crash leaves the old state or the new one, never a torn file.
func saveState(path string, st state) error {
	st.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode the replay state: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot save the replay state: %w", err)
	}
	_, werr := f.Write(append(data, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cannot save the replay state: %w", werr)
	}
	return nil
}

// startSaver saves the ledger's prefix every StateInterval while it advances; stop saves it a
// last time and returns the first error. A state that cannot be saved stops the replay (fail):
// its work could not be resumed.
func (r *run) startSaver(fail func(error)) (stop func() error) {
	var (
		saved int64 // version of the last state written; 0 was written by Run
		err   error
	)
	save := func() error {
		st, v := r.ledger.snapshot()
		if v == saved {
			return nil
		}
		if err := saveState(r.opts.StatePath, st); err != nil {
			return err
		}
		saved = v
		return nil
	}
	stopTicks := every(r.opts.StateInterval, func() bool {
		if err = save(); err != nil {
			fail(err)
			return false
		}
		return true
	})
	return func() error {
		stopTicks()
		if err != nil {
			return err
		}
		return save()
	}
}

// save writes the ledger's prefix now.
func (r *run) save() error {
	st, _ := r.ledger.snapshot()
	return saveState(r.opts.StatePath, st)
}
