package auth

import "context"

// Security event kinds. They match the audit log's event kinds; auth does
// not import the audit package, so the web layer and the CLI hand the
// Store a Recorder that writes to it.
const (
	EventSigninSuccess   = "signin.success"
	EventSigninFailure   = "signin.failure"
	EventSigninLocked    = "signin.locked"
	EventSignout         = "signout"
	EventAccessDenied    = "access.denied"
	EventUserCreated     = "user.created"
	EventUserRoleChanged = "user.role_changed"
	EventUserDisabled    = "user.disabled"
	EventUserEnabled     = "user.enabled"
	EventUserPassword    = "user.password_changed"
	EventUserSessions    = "user.sessions_ended"
	EventSessionEnded    = "session.ended"
	EventUserProjects    = "user.projects_changed"

	EventFactorEnrolled   = "mfa.enrolled"
	EventFactorReset      = "mfa.reset"
	EventFactorFailure    = "mfa.failure"
	EventRecoveryCodeUsed = "mfa.recovery_code_used"
)

// Event is a security event for the audit log. Detail never holds a
// password, a password hash, a session id or a key.
type Event struct {
	Kind   string
	Detail map[string]string
}

// Recorder records a security event on behalf of the actor in ctx (see
// ActorFrom). An error means the event was not recorded.
type Recorder func(ctx context.Context, ev Event) error

// Actor is who causes an event: a signed-in user with their client
// address, or a command-line operator.
type Actor struct {
	UserID    int64
	Name      string
	Role      Role
	ClientIP  string
	UserAgent string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor of ctx: the one set by WithActor, else one
// built from the signed-in user (UserFrom), else the zero Actor.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	if u := UserFrom(ctx); u != nil {
		return Actor{UserID: u.ID, Name: u.Name, Role: u.Role}
	}
	return Actor{}
}
