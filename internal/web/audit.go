package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/views"
)

// registerAuditRoutes adds the audit log review pages: approvers and admins
// only (auth.PermViewAudit); anyone else gets 403 and an access.denied entry.
func (s *Server) registerAuditRoutes(g *echo.Group) {
	can := s.require(auth.PermViewAudit)
	g.GET("/audit", s.handleAuditList, can)
	g.GET("/audit/export.csv", s.handleAuditExportCSV, can)
	g.GET("/audit/export.jsonl", s.handleAuditExportJSONL, can)
	g.GET("/audit/:id", s.handleAuditView, can)
	g.POST("/audit/verify", s.handleAuditVerify, can)
}

// auditVerifyWait is how long "Verify now" waits for the verification to
// finish before showing the page with "in progress".
const auditVerifyWait = 3 * time.Second

// auditTailWait is how long the audit page waits for the verification of
// the newest entries before showing what it has.
const auditTailWait = 500 * time.Millisecond

// auditFieldMax bounds each filter field.
const auditFieldMax = 200

// auditFilter reads the filter from the query: the form as typed, the
// filter to run, and a message per unusable field.
func auditFilter(c echo.Context) (views.AuditFilterForm, audit.Filter, map[string]string) {
	q := c.QueryParams()
	get := func(k string) string {
		v := strings.TrimSpace(q.Get(k))
		if len(v) > auditFieldMax {
			v = v[:auditFieldMax]
		}
		return v
	}
	form := views.AuditFilterForm{
		Actor: get("actor"), Action: get("action"), Server: get("server"), Outcome: get("outcome"),
		Text: get("text"), Since: get("since"), Until: get("until"), Correlation: get("correlation"),
		Project: get("in_project"),
	}
	f := audit.Filter{
		Actor: form.Actor, Action: form.Action, Server: form.Server, Outcome: form.Outcome,
		Text: form.Text, Correlation: form.Correlation, Project: form.Project,
	}
	errs := map[string]string{}
	var err error
	if f.Since, err = audit.ParseTimeBound(form.Since, false); err != nil {
		errs["since"] = locOf(c).T("err.audit.date")
	}
	if f.Until, err = audit.ParseTimeBound(form.Until, true); err != nil {
		errs["until"] = locOf(c).T("err.audit.date")
	}
	if f.Outcome != "" && !audit.Outcome(f.Outcome).Valid() {
		errs["outcome"] = locOf(c).T("err.audit.outcome")
	}
	if len(errs) == 0 && !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		errs["until"] = locOf(c).T("err.audit.range")
	}
	if len(errs) == 0 {
		errs = nil
	}
	return form, f, errs
}

// handleAuditList shows the audit log, newest first, filtered by the
// query, one keyset page at a time (?before=ID).
func (s *Server) handleAuditList(c echo.Context) error {
	form, f, errs := auditFilter(c)
	v := views.AuditListView{Form: form, Errors: errs}
	if b := c.QueryParam("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return httpError(http.StatusBadRequest, "err.audit.page_link")
		}
		v.Before = n
	}
	// Verify the entries written since the last verification (cheap: only
	// the new tail), waiting briefly so the badge is current.
	select {
	case <-s.audit.StartVerifyTail(context.WithoutCancel(ctx(c))):
	case <-time.After(auditTailWait):
	case <-ctx(c).Done():
	}
	status := http.StatusOK
	if errs != nil {
		status = http.StatusUnprocessableEntity
	} else {
		var err error
		// List re-checks each entry it shows and records a broken one, so
		// the status below turns red at once.
		v.Entries, v.Next, err = s.audit.List(ctx(c), f, v.Before, audit.DefaultPageSize)
		if errors.Is(err, audit.ErrInvalidFilter) {
			return httpError(http.StatusBadRequest, "err.audit.filters")
		}
		if err != nil {
			return err
		}
	}
	st, err := s.audit.Status(ctx(c))
	if err != nil {
		return err
	}
	v.Status = st
	v.LastVerification = st.Last
	v.Verifying, v.VerifyingSince = s.audit.Verifying()
	return s.render(c, status, views.AuditLogPage(v))
}

// handleAuditView shows one entry; for a call, its request and response
// side by side.
func (s *Server) handleAuditView(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return httpError(http.StatusNotFound, "err.audit.no_entry")
	}
	e, err := s.audit.Get(ctx(c), id)
	if errors.Is(err, audit.ErrNotFound) {
		return httpError(http.StatusNotFound, "err.audit.no_entry_id", "ID", id)
	}
	if err != nil {
		return err
	}
	v := views.AuditEntryView{Entry: e}
	if e.Kind.IsCall() {
		if v.Request, v.Response, err = s.audit.Exchange(ctx(c), id); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, views.AuditEntryPage(v))
}

// handleAuditExportCSV streams the entries matching the page's filter as
// CSV, named with the number of entries it holds.
func (s *Server) handleAuditExportCSV(c echo.Context) error {
	return s.auditExport(c, "csv", "text/csv; charset=utf-8", s.audit.ExportCSVWith)
}

// handleAuditExportJSONL streams the entries matching the page's filter as
// JSON lines, ending with a trailer line.
func (s *Server) handleAuditExportJSONL(c echo.Context) error {
	return s.auditExport(c, "jsonl", "application/x-ndjson; charset=utf-8", s.audit.ExportJSONLWith)
}

// exportWriteWindow is how long one chunk of an export may take to reach
// the client. Each chunk extends the connection's write deadline by this
// much, so an export is never cut off by the server's fixed write timeout
// (which stays for pages), while a client that stops reading is still
// dropped.
const exportWriteWindow = time.Minute

// deadlineWriter extends the response's write deadline before each write.
type deadlineWriter struct {
	rc     *http.ResponseController
	w      io.Writer
	window time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if err := d.rc.SetWriteDeadline(time.Now().Add(d.window)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, fmt.Errorf("extend write deadline: %w", err)
	}
	return d.w.Write(p)
}

// auditExport streams export's output as a download named after the time
// (and, for CSV, the number of entries, so a cut-off file is recognisable).
// Nothing is buffered beyond one 64 KiB chunk: rows go to the client as they
// are read.
func (s *Server) auditExport(c echo.Context, ext, contentType string,
	export func(context.Context, io.Writer, audit.Filter, audit.ExportOptions) error) error {
	_, f, errs := auditFilter(c)
	if errs != nil {
		var msgs []string
		for k, m := range errs {
			msgs = append(msgs, k+": "+m)
		}
		return httpError(http.StatusBadRequest, "err.audit.filters_because", "Reasons", strings.Join(msgs, " "))
	}
	dw := &deadlineWriter{rc: http.NewResponseController(c.Response()), w: c.Response(), window: exportWriteWindow}
	bw := bufio.NewWriterSize(dw, 64<<10)
	started := false
	o := audit.ExportOptions{Count: ext == "csv", Start: func(info audit.ExportInfo) error {
		name := "audit-" + s.audit.Now().UTC().Format("20060102T150405Z")
		h := c.Response().Header()
		if info.Entries >= 0 {
			name += "-" + strconv.FormatInt(info.Entries, 10) + "-entries"
			h.Set("X-Audit-Entries", strconv.FormatInt(info.Entries, 10))
		}
		h.Set("X-Audit-Chain-Head", strconv.FormatInt(info.HeadID, 10)+" "+info.HeadHash)
		h.Set(echo.HeaderContentType, contentType)
		h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+"."+ext+`"`)
		c.Response().WriteHeader(http.StatusOK)
		started = true
		return nil
	}}
	err := export(ctx(c), bw, f, o)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil && !started {
		return err
	}
	if err != nil {
		// The status is sent: the client has a file without its trailer
		// (JSON lines) or with fewer rows than its name says (CSV).
		s.log.ErrorContext(ctx(c), "audit export failed part way", "format", ext, "err", err)
	}
	return nil
}

// handleAuditVerify re-verifies the hash chain. It waits a few seconds for
// the result, then shows the audit page, which says "in progress" if the
// verification (run in the background) has not finished yet.
func (s *Server) handleAuditVerify(c echo.Context) error {
	done := s.audit.StartVerify(context.WithoutCancel(ctx(c)))
	select {
	case <-done:
	case <-time.After(auditVerifyWait):
	case <-ctx(c).Done():
	}
	form, _, _ := auditFilter(c)
	target := "/audit"
	if q := form.Values().Encode(); q != "" {
		target += "?" + q
	}
	return redirect(c, target)
}
