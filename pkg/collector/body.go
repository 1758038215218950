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
// into buf, at most limit bytes after decompression, or says why it cannot. body should
// already be limited as sent (http.MaxBytesReader). Apart from the server so that FuzzConvert
// can take the request path without HTTP.
func decodeBody(body io.Reader, contentEncoding string, limit int64, buf *bytes.Buffer) *requestError {
	switch enc := strings.ToLower(contentEncoding); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return badBody("bad gzip body: " + err.Error())
		}
		defer zr.Close()
		body = zr
	default:
		return &requestError{http.StatusUnsupportedMediaType, "bad_body", "unsupported Content-Encoding " + enc, 0}
	}
	n, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || n > limit:
		return bodyTooLarge(limit)
	case err != nil:
		return badBody("cannot read body: " + err.Error())
	case n == 0:
		return badBody("empty body")
	}
	return nil
}

func bodyTooLarge(limit int64) *requestError {
	return &requestError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("body larger than %d bytes", limit), 0}
}
