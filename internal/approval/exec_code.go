package approval

import (
	"errors"

	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/modelarts"
)

// Why an approved request ran no batch, stored beside its English text
// (approval_requests.exec_code) so pages and messages word it in the
// reader's language (catalog ids "approvals.exec.<code>").
const (
	ExecNotRecorded     = "not_recorded"     // the approval could not be recorded in the audit log
	ExecSealed          = "sealed"           // the sealed OS parameters could not be opened
	ExecProjectGone     = "project_gone"     // the request's project is no longer configured
	ExecRequesterGone   = "requester_gone"   // the requester may no longer run actions
	ExecFleetUnreadable = "fleet_unreadable" // the server list could not be read from ModelArts
	ExecNothingToSend   = "nothing_to_send"  // no server could take the action any more
	ExecShuttingDown    = "shutting_down"    // the console was shutting down
	ExecCloud           = "cloud"            // ModelArts could not be asked
	ExecOther           = "other"            // anything else (the log has the details)
)

// ExecCodes lists every code, for the catalog test.
var ExecCodes = []string{ExecNotRecorded, ExecSealed, ExecProjectGone, ExecRequesterGone,
	ExecFleetUnreadable, ExecNothingToSend, ExecShuttingDown, ExecCloud, ExecOther}

// execCode classifies why the executor ran no batch.
func execCode(err error) string {
	var (
		te *modelarts.TransportError
		ae *modelarts.APIError
		re *modelarts.RedirectError
		de *modelarts.DecodeError
	)
	switch {
	case errors.Is(err, ErrProjectGone):
		return ExecProjectGone
	case errors.Is(err, ErrRequesterGone):
		return ExecRequesterGone
	case errors.Is(err, ErrFleetUnreadable):
		return ExecFleetUnreadable
	case errors.Is(err, batch.ErrNothingToSend), errors.Is(err, ErrNothingToSend):
		return ExecNothingToSend
	case errors.Is(err, batch.ErrShuttingDown):
		return ExecShuttingDown
	case errors.As(err, &te), errors.As(err, &ae), errors.As(err, &re), errors.As(err, &de):
		return ExecCloud
	}
	return ExecOther
}
