package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/views"
)

// Project is one ModelArts target as the web layer sees it: what the
// header shows, and the project's own fleet cache and batch service.
type Project struct {
	Name      string
	Region    string
	Endpoint  string
	ProjectID string
	Fleet     *fleet.Cache
	Batches   *batch.Service
}

// projectParam is the query parameter that carries the current project, so
// links and bookmarks keep it; htmx requests send it as projectHeader.
const (
	projectParam  = "project"
	projectHeader = "X-Console-Project"
	projectKey    = "console.project"
)

// selectProject decides the current project of a signed-in request: the
// one named in the URL (?project=) or by htmx (X-Console-Project), else the
// first the user may see. A name the console does not have is a 404; one
// the user is limited away from is a 403. Requests of people not signed in
// have none.
func (s *Server) selectProject(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := auth.UserFrom(c.Request().Context())
		if u == nil || len(s.projects) == 0 {
			return next(c)
		}
		allowed, err := s.allowedProjects(c, u)
		if err != nil {
			return err
		}
		name := c.QueryParam(projectParam)
		if name == "" {
			name = c.Request().Header.Get(projectHeader)
		}
		var cur *Project
		switch {
		case name != "":
			p := s.projectNamed(name)
			if p == nil {
				return httpError(http.StatusNotFound, "err.project.unknown", "Project", truncate(name, 40))
			}
			if !slices.ContainsFunc(allowed, func(a *Project) bool { return a == p }) {
				return httpError(http.StatusForbidden, "err.project.forbidden", "Project", p.Name)
			}
			cur = p
		case len(allowed) > 0:
			cur = allowed[0]
		default:
			return httpError(http.StatusForbidden, "err.project.none")
		}
		c.Set(projectKey, cur)
		c.Set(projectKey+".allowed", allowed)
		return next(c)
	}
}

// allowedProjects are the projects u may see: all of them, unless an admin
// limited u to some.
func (s *Server) allowedProjects(c echo.Context, u *auth.User) ([]*Project, error) {
	names, err := s.users.Projects(c.Request().Context(), u.ID)
	if err != nil {
		return nil, err
	}
	var out []*Project
	for i := range s.projects {
		p := &s.projects[i]
		if len(names) == 0 || slices.Contains(names, p.Name) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *Server) projectNamed(name string) *Project {
	for i := range s.projects {
		if s.projects[i].Name == name {
			return &s.projects[i]
		}
	}
	return nil
}

// project is the current project of c (see selectProject); the first
// project for requests that have none.
func (s *Server) project(c echo.Context) *Project {
	if p, ok := c.Get(projectKey).(*Project); ok {
		return p
	}
	return &s.projects[0]
}

// mayUse reports whether the current user may use project p.
func mayUse(c echo.Context, p *Project) bool {
	allowed, _ := c.Get(projectKey + ".allowed").([]*Project)
	return slices.Contains(allowed, p)
}

// limitedTo names the projects the current user may use when an admin
// limited them to fewer than all; nil when they may use every project.
func (s *Server) limitedTo(c echo.Context) []string {
	allowed, _ := c.Get(projectKey + ".allowed").([]*Project)
	if allowed == nil || len(allowed) == len(s.projects) {
		return nil
	}
	names := make([]string, len(allowed))
	for i, p := range allowed {
		names[i] = p.Name
	}
	return names
}

// isDefault reports whether p is the project a URL without ?project= opens
// for the current user (their first allowed): URLs of it need no parameter.
func isDefault(c echo.Context, p *Project) bool {
	allowed, _ := c.Get(projectKey + ".allowed").([]*Project)
	return len(allowed) > 0 && allowed[0] == p
}

// withProject adds the current project to a local URL that does not name
// one, so redirects keep it. The user's default project needs no parameter
// (a console with one project never shows one), and the sign-in pages,
// which have no project, get none.
func withProject(c echo.Context, target string) string {
	p, ok := c.Get(projectKey).(*Project)
	if !ok || isDefault(c, p) || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") ||
		strings.HasPrefix(target, "/signin") {
		return target
	}
	u, err := url.Parse(target)
	if err != nil || u.Query().Has(projectParam) {
		return target
	}
	q := u.Query()
	q.Set(projectParam, p.Name)
	u.RawQuery = q.Encode()
	return u.String()
}

// projectViews is what the header shows: the current project and those the
// user may switch to. Keep is set when the current project is not the
// user's default, so the page's links must carry it.
func projectViews(c echo.Context) (views.ProjectInfo, []views.ProjectInfo) {
	p, ok := c.Get(projectKey).(*Project)
	if !ok {
		return views.ProjectInfo{}, nil
	}
	info := func(p *Project) views.ProjectInfo {
		return views.ProjectInfo{Name: p.Name, Region: p.Region, ProjectID: p.ProjectID, Endpoint: p.Endpoint,
			Keep: p == c.Get(projectKey) && !isDefault(c, p)}
	}
	allowed, _ := c.Get(projectKey + ".allowed").([]*Project)
	all := make([]views.ProjectInfo, len(allowed))
	for i, a := range allowed {
		all[i] = info(a)
	}
	return info(p), all
}

// truncate shortens s to n runes for messages.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// withoutProjectParam is raw (a URL's query) without its project
// parameter, in its order, for pages that check their query is canonical.
func withoutProjectParam(raw string) string {
	parts := strings.Split(raw, "&")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && !strings.HasPrefix(p, projectParam+"=") {
			out = append(out, p)
		}
	}
	return strings.Join(out, "&")
}

// ownSelection keeps the selected ids that are not servers of another
// project: a user's selection spans projects (server ids are unique), but
// a batch acts on one. An id another project's latest list holds is left
// out here and stays selected there; an id no list knows stays, so the
// preview can say it is gone.
func (s *Server) ownSelection(c echo.Context, ids []string) []string {
	cur := s.project(c)
	var others []*fleet.Snapshot
	for i := range s.projects {
		if p := &s.projects[i]; p != cur && p.Fleet != nil {
			if snap := p.Fleet.Current(); snap != nil {
				others = append(others, snap)
			}
		}
	}
	if len(others) == 0 {
		return ids
	}
	out := ids[:0:0]
	for _, id := range ids {
		elsewhere := false
		for _, snap := range others {
			if _, ok := snap.Find(id); ok {
				elsewhere = true
				break
			}
		}
		if !elsewhere {
			out = append(out, id)
		}
	}
	return out
}
