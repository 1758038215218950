package render

import (
	"encoding/json"
	"io"

	"github.com/earshot/earshot/internal/result"
)

// JSON writes res as documented in docs/report.md (schema: docs/report.schema.json).
func JSON(w io.Writer, res *result.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
