package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/earshot/earshot/internal/render"
	"github.com/earshot/earshot/internal/result"
)

// server holds what the handlers share; it is read-only after New.
type server struct {
	src   Source
	opts  Options
	pages map[string]*template.Template
}

// handlerFunc is a handler that returns its error instead of writing it, so that one place
// (fail) decides what a reader sees for every kind of error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// errUnknownClaim: the stream exists, the claim id does not.
var errUnknownClaim = errors.New("unknown claim")

// csp allows the page's own stylesheet and nothing else: the page has no script at all, so a
// value from the database that escaped escaping still could not run. Embedding the page in a
// newsroom's article (frames) stays allowed: it is read-only.
const csp = "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", s.handle(s.index))
	mux.Handle("GET /streams/{id}", s.handle(s.stream))
	mux.Handle("GET /streams/{id}/claims/{claim}", s.handle(s.claim))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/assets/", http.FileServerFS(assets))
	mux.Handle("GET /assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Embedded files carry no modification time; an hour keeps a reader's reloads of a
		// live page from fetching the stylesheet every 5 s, and a new release is visible soon.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	return secure(mux)
}

// secure sets the headers every answer carries, errors and 404s included.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		// A reader following a claim's source link does not tell the source which stream
		// page they were reading.
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func (s *server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Figures of a live stream change every few seconds: never show a cached copy.
		w.Header().Set("Cache-Control", "no-cache")
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// fail is the one place errors become answers. A reader who left gets nothing; an unknown
// stream or claim is a 404; anything else is a 500 that says nothing about the database (its
// errors name hosts, tables and queries) and is logged in full instead.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		s.opts.Logger.Debug("reader left before the page was ready", "path", r.URL.Path, "err", err)
		return
	}
	status, code, msg := http.StatusInternalServerError, "internal", "The measurements cannot be read right now. Try again in a moment."
	switch {
	case errors.Is(err, ErrUnknownStream):
		status, code, msg = http.StatusNotFound, "unknown_stream", "There is no stream with this id."
	case errors.Is(err, errUnknownClaim):
		status, code, msg = http.StatusNotFound, "unknown_claim", "This stream has no claim with this id."
	default:
		s.opts.Logger.Error("cannot serve a page", "path", r.URL.Path, "err", err)
	}
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
		return
	}
	var b bytes.Buffer
	if err := s.pages["error"].ExecuteTemplate(&b, "layout", errorView{page: page{Site: s.opts.Title, Title: http.StatusText(status)}, Message: msg}); err != nil {
		s.opts.Logger.Error("cannot render the error page", "err", err)
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

type errorView struct {
	page
	Message string
}

// index lists the streams.
func (s *server) index(w http.ResponseWriter, r *http.Request) error {
	streams, err := s.src.Streams(r.Context())
	if err != nil {
		return err
	}
	return s.html(w, "index", newIndexView(s.opts.Title, s.opts.Refresh, streams))
}

// stream serves a stream's page, or its result as JSON for /streams/{id}.json. The suffix is
// read from the escaped path: the page links to ids with their dots escaped (segment), so the
// page of a stream named "x.json" is /streams/x%2Ejson and its JSON /streams/x%2Ejson.json.
func (s *server) stream(w http.ResponseWriter, r *http.Request) error {
	id, format := r.PathValue("id"), ""
	escaped := strings.TrimPrefix(r.URL.EscapedPath(), "/streams/")
	for _, suffix := range []string{".json", ".csv"} {
		if raw, ok := strings.CutSuffix(escaped, suffix); ok {
			var err error
			if id, err = url.PathUnescape(raw); err != nil {
				return ErrUnknownStream
			}
			format = suffix
		}
	}
	res, err := s.result(r, id)
	if err != nil {
		return err
	}
	switch format {
	case ".json":
		return writeJSON(w, res)
	case ".csv":
		return writeCSV(w, res)
	}
	return s.html(w, "stream", newStreamView(s.opts.Title, s.opts.Refresh, res))
}

// claim serves one verdict alone: the permalink a journalist pastes next to the sentence.
func (s *server) claim(w http.ResponseWriter, r *http.Request) error {
	res, err := s.result(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	id := r.PathValue("claim")
	for _, v := range res.Claims {
		if v.Claim.ID == id {
			return s.html(w, "claim", newClaimView(s.opts.Title, s.opts.Refresh, res, v))
		}
	}
	return errUnknownClaim
}

func (s *server) result(r *http.Request, id string) (*result.Result, error) {
	res, err := s.src.Result(r.Context(), id)
	if err == nil && res == nil {
		err = ErrUnknownStream
	}
	return res, err
}

// html renders a page completely before writing it, so that a template error is still a clean
// 500 and never half a page.
func (s *server) html(w http.ResponseWriter, name string, data any) error {
	var b bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&b, "layout", data); err != nil {
		return fmt.Errorf("cannot render the %s page: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, err := w.Write(b.Bytes())
	return err
}

// writeJSON writes the result exactly as `earshot report --format json` prints it.
func writeJSON(w http.ResponseWriter, res *result.Result) error {
	var b bytes.Buffer
	if err := render.JSON(&b, res); err != nil {
		return fmt.Errorf("cannot encode the result: %w", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, err := w.Write(b.Bytes())
	return err
}

// writeCSV writes the minute curve exactly as `earshot report --format csv` prints it.
func writeCSV(w http.ResponseWriter, res *result.Result) error {
	var b bytes.Buffer
	if err := render.CSV(&b, res); err != nil {
		return fmt.Errorf("cannot encode the minute curve: %w", err)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="minutes.csv"`)
	_, err := w.Write(b.Bytes())
	return err
}

func wantsJSON(r *http.Request) bool { return strings.HasSuffix(r.URL.EscapedPath(), ".json") }
