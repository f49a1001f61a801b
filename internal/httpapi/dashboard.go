package httpapi

import (
	"io/fs"
	"net/http"

	"github.com/mercato-platform/mercato/web"
)

func (s *Server) dashboard(w http.ResponseWriter, _ *http.Request) error {
	page, err := fs.ReadFile(web.Static, "static/index.html")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(page)
	return err
}
