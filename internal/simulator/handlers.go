package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
)

// List parameters (reference §2).
const (
	defaultLimit = 10
	maxLimit     = 1024
	maxOffset    = 2147483647
)

// handleServerList serves GET /v1/{project}/dev-servers: one page of the
// fleet. limit is 0–1024 (0 or absent means 10), offset counts items,
// sort_key is createTime (default) or updateTime, sort_dir ASC (default) or
// DESC. size in the answer is the page size asked for; data may be shorter
// on the last page.
func (s *Simulator) handleServerList(q url.Values) (any, *apiError) {
	limit, err := intParam(q, "limit", 0, maxLimit)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = defaultLimit
	}
	offset, err := intParam(q, "offset", 0, maxOffset)
	if err != nil {
		return nil, err
	}
	desc := false
	switch d := q.Get("sort_dir"); strings.ToUpper(d) {
	case "", "ASC":
	case "DESC":
		desc = true
	default:
		return nil, badParameter("Invalid parameter 'sort_dir': '%s'. Use ASC or DESC.", clip(d, 32))
	}
	byUpdate := false
	switch k := q.Get("sort_key"); k {
	case "", "createTime":
	case "updateTime":
		byUpdate = true
	default:
		return nil, badParameter("Invalid parameter 'sort_key': '%s'. Use createTime or updateTime.", clip(k, 32))
	}

	s.mu.Lock()
	s.settleLocked(s.now())
	view := s.order
	if byUpdate {
		view = slices.Clone(s.order)
		slices.SortStableFunc(view, func(a, b *server) int {
			switch {
			case a.resp.UpdateAt < b.resp.UpdateAt:
				return -1
			case a.resp.UpdateAt > b.resp.UpdateAt:
				return 1
			}
			return compareCreated(a, b)
		})
	}
	total := len(view)
	data := make([]modelarts.ServerResponse, 0, max(0, min(limit, total-offset)))
	for i := offset; i < total && i < offset+limit; i++ {
		idx := i
		if desc {
			idx = total - 1 - i
		}
		data = append(data, cloneServer(view[idx].resp))
	}
	s.mu.Unlock()

	return modelarts.ServerPage{
		Current: offset/limit + 1,
		Data:    data,
		Pages:   max(1, (total+limit-1)/limit),
		Size:    limit,
		Total:   int64(total),
	}, nil
}

// handleServerListAll serves GET /v1/{project}/dev-servers/all: every server
// of the tenant on one page, oldest first. Query parameters are ignored.
func (s *Simulator) handleServerListAll() (any, *apiError) {
	s.mu.Lock()
	s.settleLocked(s.now())
	data := make([]modelarts.ServerResponse, 0, len(s.order))
	for _, srv := range s.order {
		data = append(data, cloneServer(srv.resp))
	}
	s.mu.Unlock()
	return onePage(data), nil
}

// handleServerShow serves GET /v1/{project}/dev-servers/{id}.
func (s *Simulator) handleServerShow(id string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked(s.now())
	srv, ok := s.byID[id]
	if !ok {
		return nil, notFound(id)
	}
	return cloneServer(srv.resp), nil
}

// imagePage is the answer of GET /images (ListDevServerImages): the same
// page wrapper as the server lists, {current, data, pages, size, total}, as
// Huawei's API page and the official SDK's ListDevServerImagesResponse have
// it. All matching images are on the one page.
type imagePage struct {
	Current int                             `json:"current"`
	Data    []modelarts.ServerImageResponse `json:"data"`
	Pages   int                             `json:"pages"`
	Size    int                             `json:"size"`
	Total   int64                           `json:"total"`
}

// oneImagePage wraps a complete image list in the page wrapper.
func oneImagePage(data []modelarts.ServerImageResponse) imagePage {
	return imagePage{Current: 1, Data: data, Pages: 1, Size: len(data), Total: int64(len(data))}
}

// handleImageList serves GET /v1/{project}/dev-servers/images: one page of
// images, ACTIVE and INACTIVE, filtered by server_type (BMS, ECS or HPS)
// and by flavor_name (images of that flavor's server type and architecture;
// an unknown flavor has none).
func (s *Simulator) handleImageList(q url.Values) (any, *apiError) {
	st := modelarts.ServerType(q.Get("server_type"))
	switch st {
	case "", modelarts.ServerTypeBMS, modelarts.ServerTypeECS, modelarts.ServerTypeHPS:
	default:
		return nil, badParameter("Invalid parameter 'server_type': '%s'. Use BMS, ECS or HPS.", clip(string(st), 32))
	}
	var fam *family
	if fl := q.Get("flavor_name"); fl != "" {
		f, ok := flavorFamily(fl)
		if !ok {
			return oneImagePage([]modelarts.ServerImageResponse{}), nil
		}
		fam = f
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []modelarts.ServerImageResponse{}
	for _, img := range s.images {
		if st != "" && img.ServerType != st {
			continue
		}
		if fam != nil && (img.ServerType != fam.serverType || img.Arch != fam.arch) {
			continue
		}
		out = append(out, img)
	}
	return oneImagePage(out), nil
}

// handleBatchAction serves POST /v1/{project}/dev-servers/action. The batch
// is all-or-nothing: see the package documentation.
func (s *Simulator) handleBatchAction(body []byte) (any, *apiError) {
	var req modelarts.BatchRequest
	if err := decodeBody(body, &req); err != nil {
		return nil, badParameter("Invalid request body: %s", err)
	}
	if err := req.Validate(); err != nil {
		return nil, badParameter("%s", err)
	}
	ids := make([]string, len(req.Servers))
	for i, sv := range req.Servers {
		ids[i] = sv.ID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.settleLocked(now)
	srvs, aerr := s.actLocked(req.Type, ids, req.ExtendParam, now)
	if aerr != nil {
		return nil, aerr
	}
	data := make([]modelarts.ServerResponse, len(srvs))
	for i, srv := range srvs {
		data[i] = cloneServer(srv.resp)
	}
	return onePage(data), nil
}

// handleServerAction serves the single-server calls: PUT {id}/start, /stop,
// /reboot, POST {id}/changeos, /reinstallos and DELETE {id}. They follow the
// same rules as a one-server batch and answer the server in its new
// transient state.
func (s *Simulator) handleServerAction(t modelarts.BatchType, id string, body []byte) (any, *apiError) {
	var osReq *modelarts.ServerOSRequest
	switch t {
	case modelarts.BatchChangeOS, modelarts.BatchReinstallOS:
		osReq = &modelarts.ServerOSRequest{}
		if err := decodeBody(body, osReq); err != nil {
			return nil, badParameter("Invalid request body: %s", err)
		}
		if errs := modelarts.ValidateOSParams(t, osReq); len(errs) > 0 {
			return nil, badParameter("%s", errs)
		}
	case modelarts.BatchStart:
		// The optional ServerStartRequest body carries nothing the
		// simulator needs, but it must be JSON if present.
		if len(bytes.TrimSpace(body)) > 0 {
			var v map[string]any
			if err := decodeBody(body, &v); err != nil {
				return nil, badParameter("Invalid request body: %s", err)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.settleLocked(now)
	srvs, aerr := s.actLocked(t, []string{id}, osReq, now)
	if aerr != nil {
		return nil, aerr
	}
	return cloneServer(srvs[0].resp), nil
}

// actLocked applies action t to the named servers, all or nothing:
//  1. every id must exist, else 400 ModelArts.6404 naming the first unknown id;
//  2. for CHANGEOS the image must exist and be ACTIVE, else 400 ModelArts.0104;
//  3. every server must be eligible (modelarts.Eligible: state, supernode OS
//     change, PRE_PAID delete), else 400 ModelArts.7000 naming the first
//     ineligible server, its reason and how many others are ineligible;
//  4. for CHANGEOS the image must match each server's type and architecture,
//     else 400 ModelArts.0104.
//
// Only then does every server enter its transient state.
func (s *Simulator) actLocked(t modelarts.BatchType, ids []string, osReq *modelarts.ServerOSRequest, now time.Time) ([]*server, *apiError) {
	srvs := make([]*server, len(ids))
	for i, id := range ids {
		srv, ok := s.byID[id]
		if !ok {
			return nil, notFound(id)
		}
		srvs[i] = srv
	}

	var image *modelarts.ServerImageResponse
	if t == modelarts.BatchChangeOS {
		if osReq == nil || osReq.ImageID == "" {
			return nil, badParameter("extend_param.image_id: choose the image to change to")
		}
		for i := range s.images {
			if s.images[i].ImageID == osReq.ImageID {
				img := s.images[i]
				image = &img
				break
			}
		}
		if image == nil {
			return nil, badParameter("Image '%s' not found.", clip(osReq.ImageID, 64))
		}
		if image.Status != modelarts.ImageActive {
			return nil, badParameter("Image '%s' (%s) is %s and cannot be used.", image.ImageID, image.Name, image.Status)
		}
	}

	var (
		firstBad   *server
		reason     string
		ineligible int
	)
	for _, srv := range srvs {
		if ok, why := modelarts.Eligible(t, &srv.resp); !ok {
			if firstBad == nil {
				firstBad, reason = srv, why
			}
			ineligible++
		}
	}
	if firstBad != nil {
		msg := fmt.Sprintf("Cannot %s server %s (status %s): %s.", actionVerb(t), firstBad.resp.ID, firstBad.resp.Status, reason)
		if ineligible > 1 {
			msg += fmt.Sprintf(" %d other server(s) in this request cannot be processed either; nothing was changed.", ineligible-1)
		}
		return nil, &apiError{status: http.StatusBadRequest, code: CodeNotAllowed, msg: msg}
	}

	if image != nil {
		for _, srv := range srvs {
			if image.ServerType != srv.resp.Type() || image.Arch != srv.resp.Arch() {
				return nil, badParameter("Image '%s' (%s) is for %s/%s servers; server %s is %s/%s.",
					image.ImageID, image.Name, image.ServerType, image.Arch, srv.resp.ID, srv.resp.Type(), srv.resp.Arch())
			}
		}
	}

	for _, srv := range srvs {
		keyPair := srv.resp.KeyPairName
		if t.NeedsOSParams() && osReq != nil {
			keyPair = osReq.KeyPairName
		}
		s.startLocked(srv, t, now, image, keyPair)
	}
	return srvs, nil
}

// actionVerb is how an error message names action t.
func actionVerb(t modelarts.BatchType) string {
	switch t {
	case modelarts.BatchStart:
		return "start"
	case modelarts.BatchStop:
		return "stop"
	case modelarts.BatchReboot:
		return "reboot"
	case modelarts.BatchChangeOS:
		return "change the OS of"
	case modelarts.BatchReinstallOS:
		return "reinstall the OS of"
	case modelarts.BatchDelete:
		return "delete"
	}
	return strings.ToLower(string(t))
}

// onePage wraps a complete result in the page wrapper.
func onePage(data []modelarts.ServerResponse) modelarts.ServerPage {
	return modelarts.ServerPage{Current: 1, Data: data, Pages: 1, Size: len(data), Total: int64(len(data))}
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(q url.Values, name string, lo, hi int) (int, *apiError) {
	v := q.Get(name)
	if v == "" {
		return lo, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badParameter("Invalid parameter '%s': '%s'. It must be an integer from %d to %d.", name, clip(v, 32), lo, hi)
	}
	return n, nil
}

// decodeBody decodes a JSON body, ignoring unknown fields as the cloud does.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("the body is empty")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("not valid JSON at byte %d", syn.Offset)
		case errors.As(err, &typ):
			return fmt.Errorf("field '%s' has the wrong type (%s)", typ.Field, typ.Value)
		}
		return errors.New("not valid JSON")
	}
	return nil
}
