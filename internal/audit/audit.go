// Package audit is the console's audit log: every call that can change state
// in the cloud (a request entry committed before the call is sent and a
// response entry after it), and security events such as sign-ins and denied
// access. Entries live in SQLite, are append-only at the database level
// (triggers), and form a SHA-256 hash chain that Verify walks. Secrets are
// redacted before anything is stored. See docs/audit.md.
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devserver-console/console/internal/store"
)

// ErrNotFound is returned when an entry does not exist.
var ErrNotFound = errors.New("audit: entry not found")

// ErrNoCallMeta is returned by a CallRecorder's BeforeSend when its CallMeta
// names no actor or action: the call is refused rather than sent
// unattributed.
var ErrNoCallMeta = errors.New("audit: no call metadata (actor, action); refusing to send")

// ErrNotACall is returned by Exchange for an entry that is a security event
// rather than part of a request/response exchange.
var ErrNotACall = errors.New("audit: entry is not a request or response")

// ErrInvalidFilter is wrapped by errors about a Filter that cannot be used.
var ErrInvalidFilter = errors.New("audit: invalid filter")

// Actor is who caused an entry: the signed-in user and where they came from.
// For a failed sign-in, Name is the username that was tried and UserID is 0.
type Actor struct {
	UserID    int64
	Name      string
	Role      string
	ClientIP  string
	UserAgent string
}

// Target is a server an action was aimed at, with its name as the console
// knew it when the action was sent.
type Target struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// CallMeta is what the audit log needs to know about a cloud call that the
// HTTP request itself does not say: who asked, for which batch, which action
// and on which servers. The caller binds it to the call with
// Store.CallRecorder and passes that recorder with the call.
type CallMeta struct {
	Actor         Actor
	CorrelationID string
	Action        string
	Targets       []Target
	// Detail is stored on the call's request and response entries, e.g.
	// for an approved action the approval request and both people
	// (DetailApprovalRequest, DetailRequester, DetailApprover), so one
	// entry answers who asked, who allowed and what was sent. Values under
	// keys that name a secret are redacted.
	Detail map[string]string
	// Project is the short name of the console project the call acts on
	// (CONSOLE_PROJECTS_FILE); its response entry carries it too.
	Project string
}

// Detail keys of a call made for an approved request.
const (
	DetailApprovalRequest = "approval_request"
	DetailRequester       = "requester"
	DetailApprover        = "approver"
)

// EventKind is the kind of an audit entry.
type EventKind string

// Kinds of entry written for cloud calls.
const (
	KindRequest        EventKind = "request"         // committed before a call is sent
	KindResponse       EventKind = "response"        // the call's response or transport failure
	KindOutcomeUnknown EventKind = "outcome_unknown" // written at start for a request the process never finished
)

// Security events, recorded with RecordEvent.
const (
	EventSignInSuccess       EventKind = "signin.success"
	EventSignInFailure       EventKind = "signin.failure"
	EventSignInLocked        EventKind = "signin.locked"
	EventSignOut             EventKind = "signout"
	EventAccessDenied        EventKind = "access.denied"
	EventUserCreated         EventKind = "user.created"
	EventUserRoleChanged     EventKind = "user.role_changed"
	EventUserDisabled        EventKind = "user.disabled"
	EventUserEnabled         EventKind = "user.enabled"
	EventUserPasswordChanged EventKind = "user.password_changed"
	EventUserSessionsEnded   EventKind = "user.sessions_ended"
	EventSessionEnded        EventKind = "session.ended"
	EventUserProjects        EventKind = "user.projects_changed"
	EventMFAEnrolled         EventKind = "mfa.enrolled"
	EventMFAFailure          EventKind = "mfa.failure"
	EventMFAReset            EventKind = "mfa.reset"
	EventMFARecoveryCodeUsed EventKind = "mfa.recovery_code_used"

	// Approval requests (internal/approval, docs/approvals.md).
	EventApprovalRequested EventKind = "approval.requested"
	EventApprovalApproved  EventKind = "approval.approved"
	EventApprovalDenied    EventKind = "approval.denied"
	EventApprovalWithdrawn EventKind = "approval.withdrawn"
	EventApprovalExpired   EventKind = "approval.expired"
)

// EventKinds lists the security event kinds RecordEvent accepts.
var EventKinds = []EventKind{
	EventSignInSuccess, EventSignInFailure, EventSignInLocked, EventSignOut, EventAccessDenied,
	EventUserCreated, EventUserRoleChanged, EventUserDisabled, EventUserEnabled, EventUserPasswordChanged,
	EventUserSessionsEnded, EventSessionEnded, EventUserProjects,
	EventMFAEnrolled, EventMFAFailure, EventMFAReset, EventMFARecoveryCodeUsed,
	EventApprovalRequested, EventApprovalApproved, EventApprovalDenied, EventApprovalWithdrawn, EventApprovalExpired,
}

// IsSecurityEvent reports whether k can be recorded by RecordEvent: one of
// EventKinds, or any other lower-case dotted name (such as "user.enabled")
// that is not a call kind, so that a newly added event is never refused
// and lost.
func (k EventKind) IsSecurityEvent() bool {
	return !k.IsCall() && eventKindRE.MatchString(string(k))
}

var eventKindRE = regexp.MustCompile(`^[a-z][a-z_]*(\.[a-z][a-z_]*)*$`)

// IsCall reports whether k is part of a request/response exchange.
func (k EventKind) IsCall() bool {
	return k == KindRequest || k == KindResponse || k == KindOutcomeUnknown
}

// Outcome is how a call ended, set on response and outcome_unknown entries.
type Outcome string

// Outcomes.
const (
	OutcomeSuccess        Outcome = "success"         // a 2xx response
	OutcomeAPIError       Outcome = "api_error"       // any other HTTP status
	OutcomeTransportError Outcome = "transport_error" // timeout, reset, decode failure: no usable response
	OutcomeUnknown        Outcome = "unknown"         // the process ended before the response was recorded
)

// Outcomes lists every outcome, for filter menus.
var Outcomes = []Outcome{OutcomeSuccess, OutcomeAPIError, OutcomeTransportError, OutcomeUnknown}

// Valid reports whether o is one of Outcomes.
func (o Outcome) Valid() bool {
	switch o {
	case OutcomeSuccess, OutcomeAPIError, OutcomeTransportError, OutcomeUnknown:
		return true
	}
	return false
}

// Entry is one stored audit entry: every column of audit_entries.
type Entry struct {
	ID            int64
	CreatedAt     time.Time
	Kind          EventKind
	Actor         Actor
	CorrelationID string
	// Project is the short name of the console project a call acted on, or
	// an approval event is about; empty for other security events and for
	// entries written before projects.
	Project         string
	Action          string
	Targets         []Target
	Detail          map[string]string // security events; nil for calls
	Method          string
	URL             string
	RequestHeaders  http.Header // redacted
	RequestBody     []byte      // exactly as sent, with secrets redacted in place
	Status          int
	ResponseHeaders http.Header // redacted
	ResponseBody    []byte      // exactly as received, with secrets redacted in place
	RequestID       string      // X-Request-Id of the response
	Duration        time.Duration
	Error           string
	Outcome         Outcome
	RefID           int64 // for a response or outcome_unknown entry: the request's id
	PrevHash        string
	Hash            string

	// Broken says why the entry failed its hash check when it was listed
	// (List re-checks every entry it returns); empty when intact or not
	// checked.
	Broken string

	// ref links a response built in memory to a request entry appended in the
	// same transaction (seeding); its ID becomes RefID at insert time.
	ref *Entry
}

// PrettyRequestBody returns the request body indented for reading when it is
// JSON, and as stored otherwise.
func (e *Entry) PrettyRequestBody() string { return prettyJSON(e.RequestBody) }

// PrettyResponseBody returns the response body indented for reading when it
// is JSON, and as stored otherwise.
func (e *Entry) PrettyResponseBody() string { return prettyJSON(e.ResponseBody) }

// TargetIDs returns the ids of the entry's target servers.
func (e *Entry) TargetIDs() []string {
	ids := make([]string, 0, len(e.Targets))
	for _, t := range e.Targets {
		ids = append(ids, t.ID)
	}
	return ids
}

// HeaderLines returns h as sorted "Name: value" lines for display.
func HeaderLines(h http.Header) []string {
	var lines []string
	for _, k := range sortedKeys(h) {
		for _, v := range h[k] {
			lines = append(lines, k+": "+v)
		}
	}
	return lines
}

func prettyJSON(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if !json.Valid(b) {
		return string(b)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return string(b)
	}
	return buf.String()
}

// Store is the audit log over the console database. Appends from any number
// of goroutines are serialized through the database's single writer and
// group-committed: each append returns once its entry is durable.
type Store struct {
	db  *store.DB
	log *slog.Logger

	// Now is the clock used for entry and verification times.
	Now func() time.Time
	// ObserveAppend, when set before the store is used, is told about every
	// append (metrics): the kind of its first entry, how long the caller
	// waited until it was durable (group commit included) and its error.
	ObserveAppend func(kind EventKind, took time.Duration, err error)

	mu      sync.Mutex
	queue   []*appendReq
	leading bool

	// inflight holds each request entry BeforeSend committed until its
	// AfterSend, so the response is built without reading it back.
	inflight sync.Map // int64 → *Entry

	kmu       sync.Mutex // guards key and keyID
	key       []byte     // the audit key; nil: plain chain only
	keyID     string
	keyedFrom atomic.Int64 // id of the switch entry once known; 0: not known yet

	anchors anchorState

	indexMu   sync.Mutex    // one index catch-up at a time in this process (indexTail)
	indexKick chan struct{} // wakes RunIndexer after an append

	search     atomic.Int32 // state of the text index: searchUnknown, searchBackfill, ...
	searchOnce sync.Mutex   // guards the first read of search

	vmu      sync.Mutex    // guards the background verification below
	vdone    chan struct{} // closed when the running verification ends; nil when none runs
	vstarted time.Time
}

// New returns a Store over db. A nil log discards.
func New(db *store.DB, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{db: db, log: log, Now: time.Now, anchors: anchorState{soon: make(chan struct{}, 1)},
		indexKick: make(chan struct{}, 1)}
}
