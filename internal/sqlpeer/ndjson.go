package sqlpeer

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/earshot/earshot/internal/sim"
)

// WriteNDJSON writes st's events as a collector received them — batches in arrival order,
// retried batches twice — one pkg/client.Event JSON per line: the file `earshot replay` reads
// and LoadNDJSON loads. It returns the number of lines written.
func WriteNDJSON(w io.Writer, st *sim.Stream) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw) // Encode ends every value with a newline
	n := 0
	for _, b := range st.Batches {
		for i := range b {
			if err := enc.Encode(&b[i]); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, bw.Flush()
}
