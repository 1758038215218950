package collector

import (
	"fmt"
	"net/http"
	"net/url"
)

// originSet is a set of browser origins allowed to post, "*" meaning any.
type originSet struct {
	any bool
	m   map[string]bool
}

func newOriginSet(lists ...[]string) originSet {
	s := originSet{m: map[string]bool{}}
	for _, l := range lists {
		for _, o := range l {
			if o == "*" {
				s.any = true
			}
			s.m[o] = true
		}
	}
	return s
}

func (s originSet) allows(origin string) bool { return s.any || s.m[origin] }

// checkOrigins fails for an entry that is neither "*" nor an origin as browsers send it
// (scheme://host[:port], no path), which would never match; key names the list.
func checkOrigins(key string, origins []string) error {
	for i, o := range origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("%s[%d]: %q is not an origin like https://player.example or \"*\"", key, i, o)
		}
	}
	return nil
}

// preflight answers an OPTIONS request. It carries no token, so it is granted to an origin
// that any token (or the global list) allows; the POST that follows is checked against its
// own token.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && s.anyTokenOrigins.allows(origin) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, Authorization, X-Earshot-Token")
		h.Set("Access-Control-Max-Age", "86400")
	}
	w.WriteHeader(http.StatusNoContent)
}

// allowOrigin lets the browser read the answer to a POST from an origin allowed globally or
// for tok (nil before or without authentication), and reports whether the origin may post at
// all. CORS alone only hides the answer: a POST a browser needs no preflight for (text/plain,
// the token in the query string — what sendBeacon sends) would still be processed. Browsers
// send Origin with every POST, so a request from an origin the token does not name is refused;
// a request without Origin is not from a browser page.
func (s *Server) allowOrigin(w http.ResponseWriter, r *http.Request, tok *tokenState) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	w.Header().Add("Vary", "Origin")
	if s.origins.allows(origin) || tok != nil && tok.origins.allows(origin) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		return true
	}
	return false
}
