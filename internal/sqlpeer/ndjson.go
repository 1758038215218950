package sqlpeer

import (
	"bufio"
	"encoding/json"
	"io"
	"iter"

	"github.com/earshot/earshot/internal/sim"
)

// WriteNDJSON writes a simulated stream's events as a collector received them — batches in
// arrival order, retried batches twice — one pkg/client.Event JSON per line: the file `earshot
// replay` reads and LoadNDJSON loads. batches is Stream.All or Generator.All (the night at full
// size, streamed). It returns the number of lines written.
func WriteNDJSON(w io.Writer, batches iter.Seq[sim.Batch]) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw) // Encode ends every value with a newline
	n := 0
	for b := range batches {
		for i := range b.Events {
			if err := enc.Encode(&b.Events[i]); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, bw.Flush()
}
