package modelarts

import (
	"fmt"
	"slices"
	"strings"
)

// Transition describes how an action moves a server through the lifecycle:
// the transient state it enters at once, and the state it settles in on
// success or failure. A successful DELETE removes the server (Success is
// StatusDeleted and the server disappears from lists).
type Transition struct {
	Transient Status
	Success   Status
	Failure   Status
}

// Transitions gives the lifecycle of each batch action (reference §8.2).
var Transitions = map[BatchType]Transition{
	BatchStart:       {StatusStarting, StatusRunning, StatusStartFailed},
	BatchStop:        {StatusStopping, StatusStopped, StatusStopFailed},
	BatchReboot:      {StatusRebooting, StatusRunning, StatusRebootFailed},
	BatchChangeOS:    {StatusChangingOS, StatusRunning, StatusChangingOSFailed},
	BatchReinstallOS: {StatusReinstallingOS, StatusRunning, StatusReinstallingOSFailed},
	BatchDelete:      {StatusDeleting, StatusDeleted, StatusDeleteFailed},
}

// allowedFrom lists the states each action may start from.
var allowedFrom = map[BatchType][]Status{
	BatchStart:       {StatusStopped, StatusStartFailed},
	BatchStop:        {StatusRunning, StatusStopFailed},
	BatchReboot:      {StatusRunning, StatusRebootFailed},
	BatchChangeOS:    {StatusStopped, StatusChangingOSFailed, StatusReinstallingOSFailed},
	BatchReinstallOS: {StatusStopped, StatusChangingOSFailed, StatusReinstallingOSFailed},
	BatchDelete: {StatusRunning, StatusStopped, StatusCreateFailed, StatusError,
		StatusStartFailed, StatusStopFailed, StatusRebootFailed, StatusDeleteFailed,
		StatusChangingOSFailed, StatusReinstallingOSFailed},
}

// Eligible reports whether action t can be applied to server s in its current
// state and, when it cannot, a reason an operator understands. The rules are
// the documented lifecycle (reference §8.2):
//   - START from STOPPED (or after a failed start);
//   - STOP from RUNNING or STOP_FAILED;
//   - REBOOT from RUNNING (or after a failed reboot);
//   - CHANGEOS and REINSTALLOS from STOPPED or after a failed OS change or
//     reinstall, and never in a batch for supernode (HPS) servers;
//   - DELETE for pay-per-use servers that are not busy; yearly/monthly
//     (PRE_PAID) servers must be unsubscribed through billing instead.
//
// Any server in a transient state is busy and cannot take a new action.
func Eligible(t BatchType, s *ServerResponse) (bool, string) {
	if !t.Valid() {
		return false, fmt.Sprintf("unknown action %q", t)
	}
	if s.Status.Transient() {
		return false, fmt.Sprintf("busy: the server is %s; wait until it settles", inWords(s.Status))
	}
	if s.Status == StatusDeleted {
		return false, "the server has been deleted"
	}
	if t.NeedsOSParams() && s.IsSupernode() {
		return false, ReasonSupernode
	}
	if t == BatchDelete && s.ChargingMode == ChargingPrePaid {
		return false, ReasonPrePaid
	}
	for _, st := range allowedFrom[t] {
		if s.Status == st {
			return true, ""
		}
	}
	return false, notAllowedReason(t, s.Status)
}

// The reasons Eligible gives about the server itself rather than its state;
// stored with skipped servers, and matched by the pages that say them in
// another language.
const (
	ReasonSupernode = "batch OS change and reinstall are not supported for supernode (HPS) servers"
	ReasonPrePaid   = "yearly/monthly (PRE_PAID) servers cannot be deleted here; unsubscribe them in Billing"
)

// inWords is a status as it reads inside a sentence: "stopped",
// "start failed", "changing OS".
func inWords(st Status) string {
	l := st.Label()
	if l == string(st) || l == "" {
		return l
	}
	return strings.ToLower(l[:1]) + l[1:]
}

// AllowedFrom reports whether action t may start from status st: the
// state rule of Eligible alone (the console's pages use it to say, in the
// reader's language, why a server was skipped).
func AllowedFrom(t BatchType, st Status) bool { return slices.Contains(allowedFrom[t], st) }

func notAllowedReason(t BatchType, status Status) string {
	st := inWords(status)
	switch t {
	case BatchStart:
		return fmt.Sprintf("only stopped servers can be started; this one is %s", st)
	case BatchStop:
		return fmt.Sprintf("only running servers can be stopped; this one is %s", st)
	case BatchReboot:
		return fmt.Sprintf("only running servers can be rebooted; this one is %s", st)
	case BatchChangeOS, BatchReinstallOS:
		return fmt.Sprintf("the OS can only be changed or reinstalled on a stopped server (or after a failed OS change); this one is %s", st)
	case BatchDelete:
		return fmt.Sprintf("a server that is %s cannot be deleted", st)
	}
	return fmt.Sprintf("not allowed while %s", st)
}
