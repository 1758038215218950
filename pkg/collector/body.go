package collector

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// decodeBody reads a request body as sent with the given Content-Encoding (identity or gzip)
// into buf, at most limit bytes after decompression, and returns a non-zero HTTP status and a
// message on failure. body should already be limited as sent (http.MaxBytesReader). Apart from
// the server so that FuzzConvert can take the request path without HTTP.
func decodeBody(body io.Reader, contentEncoding string, limit int64, buf *bytes.Buffer) (int, string) {
	switch enc := strings.ToLower(contentEncoding); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return http.StatusBadRequest, "bad gzip body: " + err.Error()
		}
		defer zr.Close()
		body = zr
	default:
		return http.StatusUnsupportedMediaType, "unsupported Content-Encoding " + enc
	}
	n, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || n > limit:
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit)
	case err != nil:
		return http.StatusBadRequest, "cannot read body: " + err.Error()
	case n == 0:
		return http.StatusBadRequest, "empty body"
	}
	return 0, ""
}
