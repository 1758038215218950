package collector

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
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
	if budget != nil {
		// The buffer is charged for its capacity up front (a pooled buffer holds that much
		// whatever the body sends), and for every byte read beyond it.
		c := int64(buf.Cap())
		if !budget.acquire(c) {
			return 0, errOverloaded
		}
		h = &heldReader{b: budget, held: c, prepaid: c - int64(buf.Len())}
	}
	switch enc := strings.ToLower(contentEncoding); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return 0, badBody(readError(err, "bad gzip body: not a gzip stream"))
		}
		defer zr.Close()
		body = zr
	default:
		return 0, &requestError{http.StatusUnsupportedMediaType, "bad_body", "unsupported Content-Encoding " + enc, 0}
	}
	body = io.LimitReader(body, limit+1)
	if h != nil {
		h.r = body
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
		return 0, badBody(readError(err, "cannot read the body: cut short or corrupt"))
	case n == 0:
		return 0, badBody("empty body")
	}
	return 0, nil
}

func bodyTooLarge(limit int64) *requestError {
	return &requestError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("body larger than %d bytes", limit), 0}
}

// readError says why a body could not be read without quoting a network error, whose text
// names the collector's own address and port: a timeout, a broken connection, or otherwise
// what (the body's content being at fault).
func readError(err error, otherwise string) string {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "the body did not arrive in time"
	case errors.As(err, &oe):
		return "the connection failed while the body was read"
	}
	return otherwise
}
