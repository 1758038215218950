package web

import (
	"embed"
	"html/template"
)

// The templates and the stylesheet are compiled into the binary: `earshot serve` fetches
// nothing at run time (no CDN, no web font), so the page works offline and tells no third party
// who reads it.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// partials are shared by every page: the layout, which each page fills by defining "main",
// and the pieces more than one page draws.
var partials = []string{"templates/layout.html", "templates/chart.html", "templates/verdict.html"}

// parsePages parses each page with the partials into a set of its own (each defines "main").
// html/template escapes every value by its context, HTML text, attribute, URL or SVG alike:
// quotes, claimants, stream ids and error codes come from the database and are shown as text.
func parsePages() map[string]*template.Template {
	base := template.Must(template.New("").ParseFS(templateFS, partials...))
	pages := map[string]*template.Template{}
	for _, name := range []string{"index", "stream", "claim", "error"} {
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html"))
	}
	return pages
}
