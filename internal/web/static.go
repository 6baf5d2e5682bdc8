package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/static"
)

// registerStaticRoutes serves the embedded assets under /static/. They are
// versioned by the binary, so browsers may cache them for a while.
func (s *Server) registerStaticRoutes(e *echo.Echo) {
	fs := http.StripPrefix("/static/", http.FileServer(http.FS(static.FS)))
	e.GET("/static/*", echo.WrapHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fs.ServeHTTP(w, r)
	})))
}
