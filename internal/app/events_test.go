package app_test

import (
	"slices"
	"testing"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
)

// TestSecurityEventsAreListed: every event auth records is one the audit
// log lists, so the audit page can filter by it and name it in words.
func TestSecurityEventsAreListed(t *testing.T) {
	for _, k := range []string{
		auth.EventSigninSuccess, auth.EventSigninFailure, auth.EventSigninLocked, auth.EventSignout,
		auth.EventAccessDenied, auth.EventUserCreated, auth.EventUserRoleChanged, auth.EventUserDisabled,
		auth.EventUserEnabled, auth.EventUserPassword, auth.EventUserSessions, auth.EventSessionEnded,
		auth.EventFactorEnrolled, auth.EventFactorReset, auth.EventFactorFailure, auth.EventRecoveryCodeUsed,
	} {
		if !slices.Contains(audit.EventKinds, audit.EventKind(k)) {
			t.Errorf("auth records %q, which audit.EventKinds does not list", k)
		}
	}
}
