package web

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/views"
)

// actionBodyLimit bounds the body of an action form: 32 KiB of user data
// (as a file or as text) plus the other fields and multipart overhead.
const actionBodyLimit = "256K"

// registerActionRoutes adds the batch action flow: preview, inline
// validation, review (destructive actions) and execute. Operators and
// admins only; anyone else gets 403 and nothing is sent.
func (s *Server) registerActionRoutes(g *echo.Group) {
	run := s.require(auth.PermRunActions)
	limit := middleware.BodyLimit(actionBodyLimit)
	g.POST("/actions/preview", s.handleActionPreview, limit, run)
	g.POST("/actions/validate", s.handleActionValidate, limit, run)
	g.POST("/actions/review", s.handleActionReview, limit, run)
	g.POST("/actions/execute", s.handleActionExecute, limit, run)
}

// Messages about previews that can no longer be confirmed.
const (
	msgPreviewUnknown = "This preview is not valid (it was made in another session or has been cleaned up). Nothing was sent. Choose the action again to get a new preview."
	msgPreviewExpired = "This preview has expired (previews can be confirmed for 15 minutes). Nothing was sent. Choose the action again to get a fresh preview."
	msgNothingToSend  = "None of the selected servers can take this action now, so nothing was sent."
)

// handleActionPreview shows what an action would do to the user's selected
// servers, under a new one-time token. Nothing is sent.
func (s *Server) handleActionPreview(c echo.Context) error {
	u := currentUser(c)
	action := modelarts.BatchType(strings.ToUpper(strings.TrimSpace(c.FormValue("action"))))
	if !action.Valid() {
		return echo.NewHTTPError(http.StatusBadRequest, "Choose one of the actions: Start, Stop, Reboot, Change OS, Reinstall OS or Delete.")
	}
	ids, err := s.selections.List(ctx(c), u.ID)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return s.render(c, http.StatusOK, views.ActionPanel(views.ActionPreviewData{
			Action: action,
			Notice: "No servers are selected. Tick the servers in the list first, then choose " + views.BatchActionLabel(action) + " again.",
		}))
	}
	snap, err := s.fleet.Get(ctx(c))
	if snap == nil {
		if err == nil {
			err = errors.New("no snapshot")
		}
		return echo.NewHTTPError(http.StatusServiceUnavailable,
			"The server list could not be read from ModelArts, so no preview can be made. Try again in a moment.").SetInternal(err)
	}
	if err != nil {
		// A stale list would judge eligibility on old states: refuse.
		return echo.NewHTTPError(http.StatusServiceUnavailable,
			"The server list could not be refreshed from ModelArts, so no preview can be made. Try again in a moment.").SetInternal(err)
	}
	p, err := s.batches.Prepare(ctx(c), u, action, ids, snap)
	if err != nil {
		return fmt.Errorf("prepare %s: %w", action, err)
	}
	d := previewData(p)
	d.View, d.Offscreen = viewParam(c), offscreen(c, snap, ids, ids)
	if action.NeedsOSParams() && len(p.Targets) > 0 {
		d.OS = &views.OSFormData{Login: views.LoginKeyPair}
		if action == modelarts.BatchChangeOS {
			d.OS.Images, d.Problem = s.imagesFor(c, p)
		}
	}
	if !isHTMX(c) {
		return s.render(c, http.StatusOK, views.ActionPage(d))
	}
	return s.render(c, http.StatusOK, views.ActionPanel(d))
}

// imagesFor lists the images a Change OS can use, or says why there are
// none in words for the preview.
func (s *Server) imagesFor(c echo.Context, p *batch.Prepared) ([]modelarts.ServerImageResponse, string) {
	imgs, err := s.batches.ImagesFor(ctx(c), p)
	switch {
	case errors.Is(err, batch.ErrMixedPlatform):
		return nil, "The servers to change mix server types or architectures (" + mixDetail(err) +
			"). Change OS installs one image on all of them, so select servers of one type and architecture only. Nothing was sent."
	case err != nil:
		s.log.WarnContext(ctx(c), "list images failed", "error", err.Error())
		return nil, "The image list could not be loaded from ModelArts, so Change OS cannot go on. Try again in a moment. Nothing was sent."
	case len(imgs) == 0:
		return nil, "ModelArts offers no active image for these servers, so Change OS cannot go on. Nothing was sent."
	}
	return imgs, ""
}

// mixDetail is the "BMS/ARM, ECS/X86" part of an ErrMixedPlatform.
func mixDetail(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
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
	switch {
	case hasFile && f.userData != "":
		f.errs["user_data"] = "Give the user data as text or as a file, not both."
	case hasFile:
		file, err := fh.Open()
		if err != nil {
			f.errs["user_data"] = "The user data file could not be read."
			break
		}
		raw, err = io.ReadAll(io.LimitReader(file, modelarts.UserDataMaxSize+1))
		file.Close()
		switch {
		case err != nil:
			f.errs["user_data"] = "The user data file could not be read."
		case len(raw) > modelarts.UserDataMaxSize:
			f.errs["user_data"] = fmt.Sprintf("The user data file is larger than 32 KiB (%d bytes); it must be at most %d bytes.",
				fh.Size, modelarts.UserDataMaxSize)
			raw = nil
		case len(raw) == 0:
			f.errs["user_data"] = "The user data file is empty."
		}
	case f.userData != "":
		if len(f.userData) > modelarts.UserDataMaxSize {
			f.errs["user_data"] = fmt.Sprintf("The user data is %d bytes; it must be at most %d bytes (32 KiB).",
				len(f.userData), modelarts.UserDataMaxSize)
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

// fieldOf maps a validation field to the form field it belongs to.
func fieldOf(apiField string) string {
	switch apiField {
	case "extend_param.image_id":
		return "image_id"
	case "extend_param.admin_pass":
		return "admin_pass"
	case "extend_param.key_pair_name":
		return "key_pair_name"
	case "extend_param.user_data":
		return "user_data"
	}
	return "login"
}

// sentence capitalizes msg and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return ""
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// check validates the form exactly as the API will, and returns the
// problems by form field.
func (f *osForm) check(action modelarts.BatchType) map[string]string {
	out := map[string]string{}
	add := func(field, msg string) {
		if prev := out[field]; prev != "" {
			out[field] = prev + " " + msg
		} else {
			out[field] = msg
		}
	}
	for k, v := range f.errs {
		add(k, v)
	}
	for _, fe := range modelarts.ValidateOSParams(action, f.params) {
		field := fieldOf(fe.Field)
		if field == "user_data" && f.errs["user_data"] != "" {
			continue
		}
		add(field, sentence(fe.Message))
	}
	// With a login method chosen, a missing value belongs to its field.
	if out["login"] != "" {
		switch {
		case f.login == views.LoginKeyPair && f.params.KeyPairName == "":
			delete(out, "login")
			add("key_pair_name", "Enter the name of a key pair of the project.")
		case f.login == views.LoginPassword && f.params.AdminPass == "":
			delete(out, "login")
			add("admin_pass", "Enter the admin password.")
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
		return echo.NewHTTPError(http.StatusBadRequest, "Unknown field.")
	}
	action := modelarts.BatchType(c.FormValue("action"))
	if !action.NeedsOSParams() {
		return echo.NewHTTPError(http.StatusBadRequest, "Only Change OS and Reinstall OS have settings to check.")
	}
	errs := readOSForm(c, action).check(action)
	return s.render(c, http.StatusOK, views.FieldError(id, errs[field]))
}

// lookupPrepared finds the preview of the posted token. When it can no
// longer be confirmed it has already answered (an error, or the first
// result of a used token) and returns nil.
func (s *Server) lookupPrepared(c echo.Context) (*batch.Prepared, error) {
	p, err := s.batches.Lookup(ctx(c), currentUser(c), bodyValue(c, "token"))
	switch {
	case errors.Is(err, batch.ErrTokenUnknown):
		return nil, echo.NewHTTPError(http.StatusUnprocessableEntity, msgPreviewUnknown)
	case errors.Is(err, batch.ErrTokenExpired):
		return nil, echo.NewHTTPError(http.StatusUnprocessableEntity, msgPreviewExpired)
	case err != nil:
		return nil, err
	}
	return p, nil
}

// handleActionReview checks a destructive action's form and, when it is
// valid, answers with the confirmation dialog (into #confirm-slot). A
// problem re-renders the form (422) with each message at its field.
// Nothing is sent.
func (s *Server) handleActionReview(c echo.Context) error {
	p, err := s.lookupPrepared(c)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code == http.StatusUnprocessableEntity {
			msg, _ := he.Message.(string)
			return s.render(c, http.StatusUnprocessableEntity, views.ActionGone(msg))
		}
		return err
	}
	if p.Used() {
		return redirect(c, "/batches/"+p.BatchID)
	}
	if !p.Action.Destructive() {
		return echo.NewHTTPError(http.StatusBadRequest, "This action needs no confirmation; use its Run button.")
	}
	if len(p.Targets) == 0 {
		return s.render(c, http.StatusUnprocessableEntity, views.ActionGone(msgNothingToSend))
	}
	var shown batch.Params
	page := views.ConfirmPageForm{Token: bodyValue(c, "token")}
	if p.Action.NeedsOSParams() {
		f := readOSForm(c, p.Action)
		errs := f.check(p.Action)
		var images []modelarts.ServerImageResponse
		imageName := ""
		if p.Action == modelarts.BatchChangeOS {
			var problem string
			images, problem = s.imagesFor(c, p)
			if problem != "" {
				return s.render(c, http.StatusUnprocessableEntity, views.ActionGone(problem))
			}
			if errs["image_id"] == "" {
				if imageName = imageNamed(images, f.params.ImageID); imageName == "" {
					errs["image_id"] = "This image is not offered for the selected servers; choose one from the list."
				}
			}
		}
		if len(errs) > 0 {
			d := previewData(p)
			d.View = viewParam(c)
			d.OS = f.data(images, errs)
			return s.render(c, http.StatusUnprocessableEntity, views.ActionForm(d))
		}
		shown = batch.DescribeParams(f.params, imageName)
		page.Fields = f.carry()
		page.NeedPassword = f.params.AdminPass != ""
	}
	confirm := views.ConfirmData{Action: p.Action, Targets: p.Targets, Params: shown}
	if snap, _ := s.fleet.Latest(ctx(c)); snap != nil {
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

func imageNamed(images []modelarts.ServerImageResponse, id string) string {
	for _, img := range images {
		if img.ImageID == id && id != "" {
			if img.Name == "" {
				return id
			}
			return img.Name
		}
	}
	return ""
}

// handleActionExecute sends a previewed action, once, and goes to its batch
// page. A repeated submit of the same token goes to the first batch and
// sends nothing. Destructive actions need the typed word (the field
// "confirm"); the OS settings are checked again. Any refusal sends nothing.
func (s *Server) handleActionExecute(c echo.Context) error {
	p, err := s.lookupPrepared(c)
	if err != nil {
		return err
	}
	if p.Used() {
		return redirect(c, "/batches/"+p.BatchID)
	}
	u := currentUser(c)
	var params *modelarts.ServerOSRequest
	var form *osForm
	if p.Action.NeedsOSParams() {
		form = readOSForm(c, p.Action)
		if len(form.errs) > 0 {
			return s.rerenderOSForm(c, p, form, form.check(p.Action))
		}
		params = form.params
	}
	actor := auth.ActorFrom(ctx(c))
	id, _, err := s.batches.Execute(ctx(c), u, bodyValue(c, "token"), params, c.FormValue("confirm"),
		batch.Meta{ClientIP: actor.ClientIP, UserAgent: actor.UserAgent})
	var invalid *batch.InvalidParamsError
	switch {
	case err == nil:
		s.deselectCovered(c, u.ID, id, p)
		return redirect(c, "/batches/"+id)
	case errors.Is(err, batch.ErrConfirmation):
		word := batch.Word(p.Action)
		return echo.NewHTTPError(http.StatusUnprocessableEntity,
			"To confirm, type "+word+" exactly (in capitals) in the box. Nothing was sent.")
	case errors.As(err, &invalid):
		errs := form.check(p.Action)
		for _, fe := range invalid.Errs {
			if field := fieldOf(fe.Field); errs[field] == "" {
				errs[field] = sentence(fe.Message)
			}
		}
		return s.rerenderOSForm(c, p, form, errs)
	case errors.Is(err, batch.ErrTokenUnknown):
		return echo.NewHTTPError(http.StatusUnprocessableEntity, msgPreviewUnknown)
	case errors.Is(err, batch.ErrTokenExpired):
		return echo.NewHTTPError(http.StatusUnprocessableEntity, msgPreviewExpired)
	case errors.Is(err, batch.ErrNothingToSend):
		return echo.NewHTTPError(http.StatusUnprocessableEntity, msgNothingToSend)
	case errors.Is(err, batch.ErrMixedPlatform):
		return echo.NewHTTPError(http.StatusUnprocessableEntity,
			"The servers mix server types or architectures, so one image cannot fit all of them. Nothing was sent.")
	}
	return fmt.Errorf("execute %s: %w", p.Action, err)
}

// rerenderOSForm answers an execute whose OS settings are invalid with the
// form (422), retargeted over the whole form, with each message at its field.
func (s *Server) rerenderOSForm(c echo.Context, p *batch.Prepared, f *osForm, errs map[string]string) error {
	var images []modelarts.ServerImageResponse
	if p.Action == modelarts.BatchChangeOS {
		images, _ = s.imagesFor(c, p)
	}
	d := previewData(p)
	d.View = viewParam(c)
	d.OS = f.data(images, errs)
	if isHTMX(c) {
		h := c.Response().Header()
		h.Set("HX-Retarget", "#action-form")
		h.Set("HX-Reswap", "outerHTML")
	}
	return s.render(c, http.StatusUnprocessableEntity, views.ActionForm(d))
}
