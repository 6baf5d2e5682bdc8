package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/devserver-console/console/internal/modelarts"
)

// Call records one cloud call whose audit entries are committed together
// with the caller's own records of it, so a batch needs one commit before a
// call and one after it instead of four:
//
//   - BeforeSend commits the request entry and the caller's before
//     statements in one transaction (group-committed with other appends), and
//     only then lets the client send; if either fails, nothing of it is
//     stored and the call is not sent.
//   - AfterSend keeps the response; it does not commit it.
//   - Finish commits the response entry and the caller's after statements in
//     one transaction.
//
// A crash between BeforeSend and Finish leaves a request without an answer,
// which RecoverUnfinished marks outcome unknown at the next start, exactly
// as when the crash comes while the call is in flight. A Call is for one
// call; Finish must be called once after the client returned, whether or
// not the call was sent.
type Call struct {
	s      *Store
	meta   CallMeta
	before TxFunc

	mu     sync.Mutex
	req    *Entry // the committed request entry; nil until BeforeSend succeeded
	result *modelarts.CallResult
}

var _ modelarts.Recorder = (*Call)(nil)

// BeginCall returns the Call (a modelarts.Recorder) for one call made on
// behalf of meta; before (may be nil) runs in the request entry's
// transaction.
func (s *Store) BeginCall(meta CallMeta, before TxFunc) *Call {
	return &Call{s: s, meta: meta, before: before}
}

// BeforeSend commits the request entry with the caller's before statements.
func (c *Call) BeforeSend(ctx context.Context, call *modelarts.OutgoingCall) (int64, error) {
	if call == nil {
		return 0, errors.New("audit: record request: no call")
	}
	if c.meta.Actor.Name == "" || c.meta.Action == "" {
		return 0, ErrNoCallMeta
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.req != nil {
		return 0, fmt.Errorf("audit: record request: this Call already recorded request %d", c.req.ID)
	}
	e := requestEntry(c.meta, call)
	if err := c.s.appendWith(ctx, c.before, e); err != nil {
		var ce *callerError
		if errors.As(err, &ce) { // the caller's records refused it (a double click): the audit log is fine
			c.s.log.InfoContext(ctx, "audit: call not sent: the caller's records refused it", "action", e.Action, "err", err)
		} else {
			c.s.log.ErrorContext(ctx, "audit: request not recorded; call refused", "action", e.Action, "url", e.URL, "err", err)
		}
		return 0, fmt.Errorf("audit: record request: %w", err)
	}
	c.req = e
	return e.ID, nil
}

// AfterSend keeps the call's result for Finish.
func (c *Call) AfterSend(_ context.Context, ref int64, _ *modelarts.OutgoingCall, result *modelarts.CallResult) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.req == nil || c.req.ID != ref {
		return fmt.Errorf("audit: record response: %d is not the request of this call", ref)
	}
	c.result = result
	return nil
}

// Sent reports whether the request entry was committed (so the call may
// have been sent).
func (c *Call) Sent() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.req != nil
}

// Finish commits the response entry (if a request was recorded) and the
// caller's after statements (may be nil) in one transaction. If that
// transaction fails, the response entry is committed alone, so the answer
// is kept whatever happened to the caller's records, and the error is
// returned. A Call that recorded no request commits after alone.
func (c *Call) Finish(ctx context.Context, after TxFunc) error {
	ctx = context.WithoutCancel(ctx) // a timed-out call must still be answered
	c.mu.Lock()
	req, result := c.req, c.result
	c.mu.Unlock()
	if req == nil {
		if after == nil {
			return nil
		}
		if err := c.s.appendWith(ctx, after); err != nil {
			return fmt.Errorf("audit: finish call: %w", err)
		}
		return nil
	}
	e := responseEntry(req, result) // a nil result: "no result was reported"
	err := c.s.appendWith(ctx, after, e)
	if err != nil && after != nil {
		c.s.log.ErrorContext(ctx, "audit: response and caller's records not committed together; recording the response alone",
			"ref", req.ID, "err", err)
		if err2 := c.s.append(ctx, e); err2 != nil {
			err = errors.Join(err, err2)
		} else {
			c.s.AnchorSoon()
			return fmt.Errorf("audit: finish call %d: %w", req.ID, err)
		}
	}
	if err != nil {
		c.s.log.ErrorContext(ctx, "audit: response not recorded", "ref", req.ID, "err", err)
		return fmt.Errorf("audit: record response to %d: %w", req.ID, err)
	}
	c.s.AnchorSoon() // a chunk of a batch was answered: checkpoint it
	return nil
}
