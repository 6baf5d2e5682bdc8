package modelarts

import (
	"context"
	"net/http"
	"time"
)

// OutgoingCall is a state-changing request exactly as it is about to go on the
// wire: after signing, so Header holds the real headers (including secrets,
// which a Recorder must redact before storing anything).
type OutgoingCall struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Targets are the ids of the servers the call acts on, as the client
	// put them into the request, so a Recorder need not read the body.
	Targets []string
}

// CallResult is what came back for an OutgoingCall: the HTTP status, headers
// and exact body, or the error: a *TransportError (timeout, reset, refused),
// a *RedirectError (a 3xx, not followed) or a *DecodeError.
type CallResult struct {
	Status   int
	Header   http.Header
	Body     []byte
	Err      error
	Duration time.Duration
}

// Recorder is told about a call that can change state in the cloud, before
// it is sent and after it completes. The caller passes one with each call,
// bound to who asked and why (see BatchAction). If BeforeSend returns an error the
// client does not send the call (fail closed) and returns that error.
// AfterSend is always called once for every successful BeforeSend, with the
// ref BeforeSend returned.
type Recorder interface {
	BeforeSend(ctx context.Context, call *OutgoingCall) (ref int64, err error)
	AfterSend(ctx context.Context, ref int64, call *OutgoingCall, result *CallResult) error
}
