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
//
// With a budget, every decoded byte is charged to it as it is read (heldReader); the bytes
// charged are returned, also on failure, for the caller to release.
func decodeBody(body io.Reader, contentEncoding string, limit int64, buf *bytes.Buffer, budget *byteBudget) (held int64, rerr *requestError) {
	var h *heldReader
	defer func() {
		if h != nil {
			held = h.held
		}
	}()
	switch enc := strings.ToLower(contentEncoding); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return 0, badBody("bad gzip body: " + err.Error())
		}
		defer zr.Close()
		body = zr
	default:
		return 0, &requestError{http.StatusUnsupportedMediaType, "bad_body", "unsupported Content-Encoding " + enc, 0}
	}
	body = io.LimitReader(body, limit+1)
	if budget != nil {
		h = &heldReader{r: body, b: budget}
		body = h
	}
	n, err := buf.ReadFrom(body)
	var mbe *http.MaxBytesError
	var re *requestError
	switch {
	case errors.As(err, &re):
		return 0, re
	case errors.As(err, &mbe) || n > limit:
		return 0, bodyTooLarge(limit)
	case err != nil:
		return 0, badBody("cannot read body: " + err.Error())
	case n == 0:
		return 0, badBody("empty body")
	}
	return 0, nil
}

func bodyTooLarge(limit int64) *requestError {
	return &requestError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("body larger than %d bytes", limit), 0}
}
