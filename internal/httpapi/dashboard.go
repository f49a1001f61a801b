package httpapi

import (
	"io/fs"
	"net/http"

	"github.com/mercato-platform/mercato/web"
)

// consoleCSP allows only the binary's own scripts, styles and API: user text
// placed in the page can never run, and the page cannot be framed.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

func (s *Server) dashboard(w http.ResponseWriter, _ *http.Request) error {
	page, err := fs.ReadFile(web.Static, "static/index.html")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", consoleCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_, err = w.Write(page)
	return err
}
