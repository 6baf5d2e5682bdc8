package simulator

import (
	"bytes"
	crand "crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
)

// maxBody is the largest request body API Gateway accepts for AK/SK-signed
// requests (12 MB).
const maxBody = 12 << 20

// Error codes the simulator answers with. See docs/simulator.md for which
// are documented by Huawei and which are assumptions.
const (
	CodeNotFound       = "ModelArts.6404" // unknown server id (HTTP 400)
	CodeNotAllowed     = "ModelArts.7000" // action not allowed for this server now (HTTP 400)
	CodeBadParameter   = "ModelArts.0104" // invalid request body or parameter (HTTP 400)
	CodeForbidden      = "ModelArts.0103" // project not served (HTTP 403)
	CodeInternal       = "ModelArts.0050" // injected internal error (HTTP 500)
	CodeAuthFailed     = "APIGW.0301"     // signature check failed (HTTP 401)
	CodeNoSuchAPI      = "APIGW.0101"     // unknown path or method (HTTP 404)
	CodeTooLarge       = "APIGW.0201"     // body over 12 MB (HTTP 413)
	CodeThrottled      = "APIGW.0308"     // injected throttling (HTTP 429)
	authFailedMessage  = "Incorrect IAM authentication information: verify aksk signature fail"
	noSuchAPIMessage   = "The API does not exist or has not been published in the environment"
	internalMessage    = "Internal server error. Please try again later."
	throttledMsgFormat = "The throttling threshold has been reached: policy user over ratelimit,limit:%d,time:1 minute"
)

// apiError is an error response: HTTP status and the JSON error body.
// Gateway errors (APIGW.*) also carry request_id in the body, as API Gateway
// does.
type apiError struct {
	status  int
	code    string
	msg     string
	gateway bool
}

// errorBody is the JSON error body.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	RequestID string `json:"request_id,omitempty"`
}

func badParameter(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: CodeBadParameter, msg: fmt.Sprintf(format, args...)}
}

func notFound(id string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: CodeNotFound, msg: fmt.Sprintf("LiteServer instance '%s' not found.", clip(id, 128))}
}

// route is a matched API path.
type route struct {
	kind    routeKind
	project string
	id      string
	action  modelarts.BatchType // single-server actions
}

type routeKind int

const (
	routeList routeKind = iota + 1
	routeListAll
	routeImages
	routeShow
	routeBatch
	routeSingle
)

// matchRoute maps method and path to an endpoint. Like a router with an
// {id} parameter, any segment that is not a literal is taken as an id (so
// GET /dev-servers/action is a "show" of id "action", which is not found).
func matchRoute(method, path string) (route, bool) {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return route{}, false
	}
	seg := strings.Split(rest, "/")
	if len(seg) < 2 || seg[0] == "" || seg[1] != "dev-servers" {
		return route{}, false
	}
	r := route{project: seg[0]}
	seg = seg[2:]
	for _, s := range seg {
		if s == "" {
			return route{}, false
		}
	}
	switch len(seg) {
	case 0:
		if method == http.MethodGet {
			r.kind = routeList
			return r, true
		}
	case 1:
		switch {
		case method == http.MethodGet && seg[0] == "all":
			r.kind = routeListAll
		case method == http.MethodGet && seg[0] == "images":
			r.kind = routeImages
		case method == http.MethodPost && seg[0] == "action":
			r.kind = routeBatch
		case method == http.MethodGet:
			r.kind, r.id = routeShow, seg[0]
		case method == http.MethodDelete:
			r.kind, r.id, r.action = routeSingle, seg[0], modelarts.BatchDelete
		default:
			return route{}, false
		}
		return r, true
	case 2:
		r.id = seg[0]
		switch {
		case method == http.MethodPut && seg[1] == "start":
			r.action = modelarts.BatchStart
		case method == http.MethodPut && seg[1] == "stop":
			r.action = modelarts.BatchStop
		case method == http.MethodPut && seg[1] == "reboot":
			r.action = modelarts.BatchReboot
		case method == http.MethodPost && seg[1] == "changeos":
			r.action = modelarts.BatchChangeOS
		case method == http.MethodPost && seg[1] == "reinstallos":
			r.action = modelarts.BatchReinstallOS
		default:
			return route{}, false
		}
		r.kind = routeSingle
		return r, true
	}
	return route{}, false
}

// ServeHTTP answers one API request. Every response carries X-Request-Id.
// The order of checks is: latency, dropped connection, body size, route
// (404 APIGW.0101), signature (401 APIGW.0301), project (403), injected
// 429/500, the endpoint itself, then the timeout or malformed-body faults.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	w.Header().Set("X-Request-Id", reqID)

	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	fault, latency := s.faults.pick(r.Method)
	s.reqs.add(RecordedRequest{
		Time:      s.now(),
		Method:    r.Method,
		Path:      r.URL.Path,
		RawQuery:  r.URL.RawQuery,
		Header:    r.Header.Clone(),
		Body:      body,
		RequestID: reqID,
		Mutating:  isMutating(r.Method),
		Fault:     fault,
	})

	status := s.serve(w, r, body, readErr, reqID, fault, latency)

	if s.opts.Logger != nil {
		attrs := []any{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.String("request_id", reqID),
			slog.Duration("duration", time.Since(start)),
		}
		if fault != FaultNone {
			attrs = append(attrs, slog.String("fault", fault.String()))
		}
		s.opts.Logger.Info("simulator request", attrs...)
	}
}

// serve does the work of ServeHTTP and returns the status sent (0 when no
// response was sent).
func (s *Simulator) serve(w http.ResponseWriter, r *http.Request, body []byte, readErr error, reqID string, fault FaultKind, latency time.Duration) int {
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return 0
		case <-s.done:
			t.Stop()
		}
	}
	if fault == FaultDrop {
		dropConnection(w)
		return 0
	}
	if readErr != nil {
		return s.writeError(w, reqID, badParameter("Could not read the request body."))
	}
	if len(body) > maxBody {
		return s.writeError(w, reqID, &apiError{status: http.StatusRequestEntityTooLarge, code: CodeTooLarge, msg: "Request entity too large", gateway: true})
	}
	rt, ok := matchRoute(r.Method, r.URL.Path)
	if !ok {
		return s.writeError(w, reqID, &apiError{status: http.StatusNotFound, code: CodeNoSuchAPI, msg: noSuchAPIMessage, gateway: true})
	}
	if err := s.authenticate(r, body); err != nil {
		if s.opts.Logger != nil {
			// The detail names what failed (never a secret) to help whoever
			// is debugging a client; the response stays as terse as the cloud's.
			s.opts.Logger.Warn("simulator: signature rejected", slog.String("request_id", reqID), slog.String("reason", err.Error()))
		}
		return s.writeError(w, reqID, &apiError{status: http.StatusUnauthorized, code: CodeAuthFailed, msg: authFailedMessage, gateway: true})
	}
	if e := s.checkProject(r, rt.project); e != nil {
		return s.writeError(w, reqID, e)
	}
	switch fault {
	case FaultThrottle:
		w.Header().Set("Retry-After", strconv.Itoa(s.faults.retryAfterSeconds()))
		return s.writeError(w, reqID, &apiError{status: http.StatusTooManyRequests, code: CodeThrottled, msg: fmt.Sprintf(throttledMsgFormat, 100), gateway: true})
	case FaultError:
		return s.writeError(w, reqID, &apiError{status: http.StatusInternalServerError, code: CodeInternal, msg: internalMessage})
	}

	status, payload := s.dispatch(r, rt, body)

	switch fault {
	case FaultTimeout:
		// The request has been applied; now never answer.
		t := time.NewTimer(maxHang)
		defer t.Stop()
		select {
		case <-r.Context().Done():
		case <-s.done:
		case <-t.C:
		}
		dropConnection(w)
		return 0
	case FaultMalformed:
		cut := payload[:len(payload)/2]
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(cut)
		return http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(payload)
	return status
}

// dispatch runs the endpoint and returns its status and JSON body.
func (s *Simulator) dispatch(r *http.Request, rt route, body []byte) (int, []byte) {
	var (
		v    any
		aerr *apiError
	)
	q := r.URL.Query()
	switch rt.kind {
	case routeList:
		v, aerr = s.handleServerList(q)
	case routeListAll:
		v, aerr = s.handleServerListAll()
	case routeImages:
		v, aerr = s.handleImageList(q)
	case routeShow:
		v, aerr = s.handleServerShow(rt.id)
	case routeBatch:
		v, aerr = s.handleBatchAction(body)
	case routeSingle:
		v, aerr = s.handleServerAction(rt.action, rt.id, body)
	default:
		aerr = &apiError{status: http.StatusNotFound, code: CodeNoSuchAPI, msg: noSuchAPIMessage, gateway: true}
	}
	if aerr != nil {
		return aerr.status, mustJSON(errorBody{ErrorCode: aerr.code, ErrorMsg: aerr.msg})
	}
	return http.StatusOK, mustJSON(v)
}

// authenticate checks the credentials the simulator was given: the IAM
// token in X-Auth-Token, else the AK/SK signature. With neither configured,
// anyone may call.
func (s *Simulator) authenticate(r *http.Request, body []byte) error {
	if s.opts.Token != "" {
		if got := r.Header.Get("X-Auth-Token"); got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) == 1 {
			return nil
		}
		if s.opts.AK == "" {
			return errors.New("the request has no valid X-Auth-Token")
		}
	}
	if s.opts.AK == "" || s.opts.SK == "" {
		return nil
	}
	lookup := func(ak string) (string, bool) {
		if ak == s.opts.AK {
			return s.opts.SK, true
		}
		return "", false
	}
	return modelarts.VerifySignature(r, body, lookup, s.now(), modelarts.DefaultMaxSkew)
}

// checkProject refuses a request for a project other than Options.ProjectID,
// by path or by X-Project-Id header.
func (s *Simulator) checkProject(r *http.Request, project string) *apiError {
	want := s.opts.ProjectID
	if want == "" {
		return nil
	}
	got := project
	if got == want {
		if h := r.Header.Get(modelarts.HeaderProjectID); h == "" || h == want {
			return nil
		}
		got = r.Header.Get(modelarts.HeaderProjectID)
	}
	return &apiError{
		status: http.StatusForbidden,
		code:   CodeForbidden,
		msg:    fmt.Sprintf("Permission denied: project '%s' is not the project of this credential.", clip(got, 64)),
	}
}

// writeError sends an error response and returns its status.
func (s *Simulator) writeError(w http.ResponseWriter, reqID string, e *apiError) int {
	b := errorBody{ErrorCode: e.code, ErrorMsg: e.msg}
	if e.gateway {
		b.RequestID = reqID
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(e.status)
	_, _ = w.Write(mustJSON(b))
	return e.status
}

// dropConnection closes the client connection without a response.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
		return
	}
	// HTTP/2 or a recorder: abort the handler, which resets the stream.
	panic(http.ErrAbortHandler)
}

// mustJSON encodes v as the cloud does: no HTML escaping of <, > and &.
func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only plain data types are encoded here; this cannot happen.
		panic(fmt.Sprintf("simulator: encode response: %v", err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// newRequestID returns 32 lower-case hex characters, like the cloud's.
func newRequestID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// clip shortens text echoed back in error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
