package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/views"
)

// registerActionRoutes adds the batch action flow: preview, inline
// validation, review (destructive actions) and execute. Operators and
// admins only; anyone else gets 403 and nothing is sent.
func (s *Server) registerActionRoutes(g *echo.Group) {
	run := s.require(auth.PermRunActions)
	g.POST("/actions/preview", s.handleActionPreview, run)
	g.POST("/actions/validate", s.handleActionValidate, run)
	g.POST("/actions/review", s.handleActionReview, run)
	g.POST("/actions/execute", s.handleActionExecute, run)
}

// handleActionPreview shows what an action would do to the user's selected
// servers, under a new one-time token. Nothing is sent.
func (s *Server) handleActionPreview(c echo.Context) error {
	u := currentUser(c)
	action := modelarts.BatchType(strings.ToUpper(strings.TrimSpace(c.FormValue("action"))))
	if !action.Valid() {
		return httpError(http.StatusBadRequest, "err.choose_action")
	}
	ids, err := s.selections.List(ctx(c), u.ID)
	if err != nil {
		return err
	}
	ids = s.ownSelection(c, ids)
	if len(ids) == 0 {
		return s.render(c, http.StatusOK, views.ActionPanel(views.ActionPreviewData{
			Action: action,
			Notice: s.loc(c).T("err.no_selection_action", "Action", views.ActionName(ctx(c), action)),
		}))
	}
	snap, err := s.project(c).Fleet.Get(ctx(c))
	if snap == nil && err == nil {
		err = errors.New("no snapshot")
	}
	if err != nil {
		// A stale list would judge eligibility on old states: refuse.
		return &UserError{Status: http.StatusServiceUnavailable, Cause: err,
			Message: s.loc(c).T("err.fleet_for_preview", "Problem", cloudProblem(s.loc(c), err))}
	}
	p, err := s.project(c).Batches.Prepare(ctx(c), u, action, ids, snap)
	if err != nil {
		return fmt.Errorf("prepare %s: %w", action, err)
	}
	d := previewData(p)
	d.View, d.Offscreen = viewParam(c), offscreen(c, snap, ids, ids)
	d.Approval = s.approvalNote(c, p)
	if action.NeedsOSParams() && len(p.Targets) > 0 {
		d.OS = &views.OSFormData{Login: views.LoginKeyPair, Images: p.Images}
		if err := p.ImagesProblem(); err != nil {
			ue := publicError(s.loc(c), err)
			if ue.Status >= 500 {
				s.log.WarnContext(ctx(c), "change OS preview without images", "err", err.Error())
			}
			d.Problem = ue.Message
		}
	}
	if !isHTMX(c) {
		return s.render(c, http.StatusOK, views.ActionPage(d))
	}
	return s.render(c, http.StatusOK, views.ActionPanel(d))
}

func previewData(p *batch.Prepared) views.ActionPreviewData {
	return views.ActionPreviewData{
		Action:    p.Action,
		Token:     p.Token,
		Targets:   p.Targets,
		Skipped:   p.Skipped,
		ExpiresAt: p.ExpiresAt,
	}
}

// osForm is the Change OS / Reinstall OS form as posted.
type osForm struct {
	params   *modelarts.ServerOSRequest
	login    string
	userData string // the text as typed (line endings normalized)
	raw      []byte // the user data to send, from the text or the file
	// errs are problems found while reading the form, by view field.
	errs map[string]string
}

// readOSForm reads the OS fields of the form. The user data comes as text
// or as a file (not both) and is base64-encoded here. Only the field of the
// chosen login method is taken.
func readOSForm(c echo.Context, action modelarts.BatchType) *osForm {
	f := &osForm{params: &modelarts.ServerOSRequest{}, errs: map[string]string{}, login: c.FormValue("login")}
	if action == modelarts.BatchChangeOS {
		f.params.ImageID = strings.TrimSpace(c.FormValue("image_id"))
	}
	keyPair := strings.TrimSpace(c.FormValue("key_pair_name"))
	pass := bodyValue(c, "admin_pass")
	switch f.login {
	case views.LoginKeyPair:
		f.params.KeyPairName = keyPair
	case views.LoginPassword:
		f.params.AdminPass = pass
	default:
		f.login = ""
		f.params.KeyPairName, f.params.AdminPass = keyPair, pass
	}

	f.userData = strings.ReplaceAll(c.FormValue("user_data"), "\r\n", "\n")
	var raw []byte
	fh, err := c.FormFile("user_data_file")
	hasFile := err == nil && fh != nil && (fh.Size > 0 || fh.Filename != "")
	l := locOf(c)
	switch {
	case hasFile && f.userData != "":
		f.errs["user_data"] = l.T("err.user_data.both")
	case hasFile:
		file, err := fh.Open()
		if err != nil {
			f.errs["user_data"] = l.T("err.user_data.unreadable")
			break
		}
		raw, err = io.ReadAll(io.LimitReader(file, modelarts.UserDataMaxSize+1))
		file.Close()
		switch {
		case err != nil:
			f.errs["user_data"] = l.T("err.user_data.unreadable")
		case len(raw) > modelarts.UserDataMaxSize:
			f.errs["user_data"] = l.T("err.user_data.file_large", "Size", fh.Size, "Max", modelarts.UserDataMaxSize)
			raw = nil
		case len(raw) == 0:
			f.errs["user_data"] = l.T("err.user_data.empty")
		}
	case f.userData != "":
		if len(f.userData) > modelarts.UserDataMaxSize {
			f.errs["user_data"] = l.T("err.user_data.text_large", "Size", len(f.userData), "Max", modelarts.UserDataMaxSize)
		} else {
			raw = []byte(f.userData)
		}
	}
	if len(raw) > 0 {
		f.raw = raw
		f.params.UserData = base64.StdEncoding.EncodeToString(raw)
	}
	return f
}

// input is the form's OS settings as the domain takes them.
func (f *osForm) input() *batch.OSInput {
	return &batch.OSInput{Login: f.login, Params: *f.params}
}

// fieldErrors merges the problems found while reading the form with the
// domain's, by form field (a field the form could not read keeps its own),
// in the person's language.
func (f *osForm) fieldErrors(l *i18n.Localizer, domain batch.FieldErrors) map[string]string {
	out := maps.Clone(f.errs)
	for field, msg := range osFieldMessages(l, domain) {
		if out[field] == "" {
			out[field] = msg
		}
	}
	return out
}

// osFormData is the form as it is re-rendered: never with the password.
func (f *osForm) data(images []modelarts.ServerImageResponse, errs map[string]string) *views.OSFormData {
	login := f.login
	if login == "" {
		login = views.LoginKeyPair
		if f.params.AdminPass != "" && f.params.KeyPairName == "" {
			login = views.LoginPassword
		}
	}
	return &views.OSFormData{
		Images:      images,
		ImageID:     f.params.ImageID,
		Login:       login,
		KeyPairName: f.params.KeyPairName,
		UserData:    f.userData,
		Errors:      errs,
	}
}

var fieldElementIDs = map[string]string{
	"image_id":      "os-image-error",
	"login":         "os-login-error",
	"key_pair_name": "os-key-pair-name-error",
	"admin_pass":    "os-admin-pass-error",
	"user_data":     "os-user-data-error",
}

// handleActionValidate checks the OS form as the user types and answers
// with the message slot of one field (empty when the field is fine).
func (s *Server) handleActionValidate(c echo.Context) error {
	field := c.FormValue("field")
	id, ok := fieldElementIDs[field]
	if !ok {
		return httpError(http.StatusBadRequest, "err.unknown_field")
	}
	action := modelarts.BatchType(c.FormValue("action"))
	if !action.NeedsOSParams() {
		return httpError(http.StatusBadRequest, "err.no_settings")
	}
	f := readOSForm(c, action)
	errs := f.fieldErrors(locOf(c), batch.CheckOS(action, *f.input()))
	return s.render(c, http.StatusOK, views.FieldError(id, errs[field]))
}

// handleActionReview checks a destructive action's form and, when it is
// valid, answers with the confirmation dialog (into #confirm-slot). A
// problem with the settings re-renders the form (422) with each message at
// its field. batch.Service.Review decides; nothing is sent.
func (s *Server) handleActionReview(c echo.Context) error {
	var f *osForm
	var in *batch.OSInput
	if a := modelarts.BatchType(c.FormValue("action")); a.NeedsOSParams() {
		f = readOSForm(c, a)
		in = f.input()
	}
	p, shown, err := s.project(c).Batches.Review(ctx(c), currentUser(c), bodyValue(c, "token"), in)
	var fe batch.FieldErrors
	switch {
	case err == nil && p.Used():
		return redirect(c, p.Landing())
	case p != nil && p.Action.NeedsOSParams() && f == nil:
		// The form did not say its action: read it for the prepared one.
		f = readOSForm(c, p.Action)
		p, shown, err = s.project(c).Batches.Review(ctx(c), currentUser(c), bodyValue(c, "token"), f.input())
		if err == nil && p.Used() {
			return redirect(c, p.Landing())
		}
	}
	switch {
	case errors.As(err, &fe) || (err == nil && f != nil && len(f.errs) > 0):
		d := previewData(p)
		d.View = viewParam(c)
		d.OS = f.data(p.Images, f.fieldErrors(locOf(c), fe))
		return s.render(c, http.StatusUnprocessableEntity, views.ActionForm(d))
	case err != nil:
		ue := publicError(s.loc(c), err)
		if ue.Status >= 500 || ue.Status == http.StatusBadRequest {
			return ue
		}
		return s.render(c, ue.Status, views.ActionGone(ue.Message))
	}
	page := views.ConfirmPageForm{Token: bodyValue(c, "token")}
	if f != nil {
		page.Fields = append(f.carry(), views.HiddenField{Name: "action", Value: string(p.Action)})
		page.NeedPassword = f.params.AdminPass != ""
	}
	confirm := views.ConfirmData{Action: p.Action, Targets: p.Targets, Params: shown, Approval: s.approvalNote(c, p)}
	if snap, _ := s.project(c).Fleet.Latest(ctx(c)); snap != nil {
		// Only to mark the servers the user's fleet page does not show.
		sel, err := s.selections.List(ctx(c), currentUser(c).ID)
		if err != nil {
			return err
		}
		targets := make([]string, len(p.Targets))
		for i, t := range p.Targets {
			targets[i] = t.ID
		}
		confirm.Offscreen = offscreen(c, snap, sel, targets)
	}
	if !isHTMX(c) {
		return s.render(c, http.StatusOK, views.ActionConfirmPage(confirm, page))
	}
	h := c.Response().Header()
	h.Set("HX-Retarget", "#confirm-slot")
	h.Set("HX-Reswap", "innerHTML")
	return s.render(c, http.StatusOK, views.ConfirmDialog(confirm))
}

// carry lists the OS settings the confirmation page carries over: all but
// the password, which is typed again there.
func (f *osForm) carry() []views.HiddenField {
	var out []views.HiddenField
	add := func(name, value string) {
		if value != "" {
			out = append(out, views.HiddenField{Name: name, Value: value})
		}
	}
	add("image_id", f.params.ImageID)
	add("key_pair_name", f.params.KeyPairName)
	login := views.LoginKeyPair
	if f.params.AdminPass != "" {
		login = views.LoginPassword
	}
	add("login", login)
	add("user_data", string(f.raw))
	return out
}

// handleActionExecute sends a previewed action, once, and goes to its batch
// page. A repeated submit of the same token goes to the first batch and
// sends nothing. batch.Service.Execute decides (token, typed word, OS
// settings, image offered); any refusal sends nothing.
func (s *Server) handleActionExecute(c echo.Context) error {
	var f *osForm
	var in *batch.OSInput
	if a := modelarts.BatchType(c.FormValue("action")); a.NeedsOSParams() {
		f = readOSForm(c, a)
		in = f.input()
	}
	actor := auth.ActorFrom(ctx(c))
	req := batch.ExecuteRequest{
		User: currentUser(c), Token: bodyValue(c, "token"), OS: in, TypedWord: c.FormValue("confirm"),
		Meta: batch.Meta{ClientIP: actor.ClientIP, UserAgent: actor.UserAgent},
	}
	if f != nil && len(f.errs) > 0 {
		// The form itself could not be read (user data as text and file,
		// too large): nothing goes further.
		p, err := s.project(c).Batches.Lookup(ctx(c), req.User, req.Token)
		if err != nil {
			return err
		}
		if p.Used() {
			return redirect(c, p.Landing())
		}
		return s.rerenderOSForm(c, p, f, f.fieldErrors(locOf(c), batch.CheckOS(p.Action, *in)))
	}
	ex, err := s.runOrSubmit(c, req)
	p := ex.Prepared
	if err == nil {
		return s.landExecuted(c, req.User.ID, ex)
	}
	if p != nil && p.Action.NeedsOSParams() && f == nil {
		// The form did not say its action: read the settings for the
		// prepared one and decide again.
		f = readOSForm(c, p.Action)
		if len(f.errs) > 0 {
			return s.rerenderOSForm(c, p, f, f.fieldErrors(locOf(c), batch.CheckOS(p.Action, *f.input())))
		}
		req.OS = f.input()
		if ex, err = s.runOrSubmit(c, req); err == nil {
			return s.landExecuted(c, req.User.ID, ex)
		}
		p = ex.Prepared
	}
	var fe batch.FieldErrors
	if errors.As(err, &fe) && p != nil && f != nil {
		return s.rerenderOSForm(c, p, f, f.fieldErrors(locOf(c), fe))
	}
	return err
}

// runOrSubmit executes req; when the approval policy covers the action
// (batch.Service decides: ErrApprovalRequired) it submits it instead as an
// approval request with the form's reason, and nothing is sent.
func (s *Server) runOrSubmit(c echo.Context, req batch.ExecuteRequest) (batch.Execution, error) {
	batches := s.project(c).Batches
	ex, err := batches.Execute(ctx(c), req)
	if !errors.Is(err, batch.ErrApprovalRequired) || s.approvals == nil {
		return ex, err
	}
	meta := s.approvalMeta(c)
	reason := c.FormValue("reason")
	return batches.Submit(ctx(c), req, func(cx context.Context, sub batch.Submission) error {
		p := sub.Prepared
		servers := make([]approval.Server, len(p.Targets))
		for i, t := range p.Targets {
			servers[i] = approval.Server{ID: t.ID, Name: t.Name, Status: t.Status, ServerType: t.ServerType, Arch: t.Arch, Flavor: t.Flavor}
		}
		skipped := make([]approval.Skip, len(p.Skipped))
		for i, sk := range p.Skipped {
			skipped[i] = approval.Skip{ID: sk.ID, Name: sk.Name, Status: sk.Status, Reason: sk.Reason}
		}
		_, err := s.approvals.Create(cx, approval.NewRequest{
			ID: sub.ID, Project: s.project(c).Name, Requester: req.User, Meta: meta, Action: p.Action,
			Servers: servers, Skipped: skipped, OSParams: sub.OS, ImageName: sub.ImageName, Reason: reason,
		})
		return err
	})
}

// landExecuted removes the servers the batch or request covers from the
// selection and goes to its page.
func (s *Server) landExecuted(c echo.Context, owner int64, ex batch.Execution) error {
	if ex.ApprovalID != "" && ex.BatchID == "" {
		if ex.Started {
			s.deselectCovered(c, owner, "approval "+ex.ApprovalID, ex.Prepared)
		}
		return redirect(c, "/approvals/"+ex.ApprovalID)
	}
	s.deselectCovered(c, owner, ex.BatchID, ex.Prepared)
	return redirect(c, "/batches/"+ex.BatchID)
}

// rerenderOSForm answers an execute whose OS settings are invalid with the
// form (422), retargeted over the whole form, with each message at its field.
func (s *Server) rerenderOSForm(c echo.Context, p *batch.Prepared, f *osForm, errs map[string]string) error {
	d := previewData(p)
	d.View = viewParam(c)
	d.OS = f.data(p.Images, errs)
	if isHTMX(c) {
		h := c.Response().Header()
		h.Set("HX-Retarget", "#action-form")
		h.Set("HX-Reswap", "outerHTML")
	}
	return s.render(c, http.StatusUnprocessableEntity, views.ActionForm(d))
}

// approvalNote says, in the person's language, why p needs approval ("" when
// it does not); the batch service decides whether it does.
func (s *Server) approvalNote(c echo.Context, p *batch.Prepared) string {
	note := s.project(c).Batches.ApprovalNote(p)
	if note == "" || s.approvals == nil {
		return note
	}
	return s.approvals.Policy().ExplainIn(s.loc(c), p.Action, len(p.Targets))
}
