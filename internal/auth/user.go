// Package auth owns the console's users, roles, passwords, sessions and
// sign-in throttling.
package auth

import (
	"context"
	"time"
)

// Role is what a user may do in the console.
type Role string

// The four roles, from least to most privileged.
const (
	RoleViewer   Role = "viewer"   // sees the fleet
	RoleOperator Role = "operator" // sees the fleet and runs batch actions
	RoleApprover Role = "approver" // sees the fleet and the audit log
	RoleAdmin    Role = "admin"    // everything, plus managing users
)

// Roles lists every role.
var Roles = []Role{RoleViewer, RoleOperator, RoleApprover, RoleAdmin}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleViewer, RoleOperator, RoleApprover, RoleAdmin:
		return true
	}
	return false
}

// Permission is one thing a role may be allowed to do.
type Permission string

// Permissions checked by the web layer.
const (
	PermViewFleet      Permission = "fleet:view"
	PermRunActions     Permission = "actions:run"
	PermViewAudit      Permission = "audit:view"
	PermViewAllBatches Permission = "batches:view-all"
	PermManageUsers    Permission = "users:manage"
	// PermDecideApprovals: approve or deny other people's approval
	// requests, and see everyone's (internal/approval).
	PermDecideApprovals Permission = "approvals:decide"
)

// Can reports whether role r holds permission p.
func (r Role) Can(p Permission) bool {
	switch p {
	case PermViewFleet:
		return r.Valid()
	case PermRunActions:
		return r == RoleOperator || r == RoleAdmin
	case PermViewAudit, PermViewAllBatches, PermDecideApprovals:
		return r == RoleApprover || r == RoleAdmin
	case PermManageUsers:
		return r == RoleAdmin
	}
	return false
}

// User is a console user as the rest of the console sees it.
type User struct {
	ID       int64  `db:"id"`
	Name     string `db:"name"`
	Role     Role   `db:"role"`
	Disabled bool   `db:"disabled"`

	// Set by the Store's Get, GetByName and List; zero elsewhere.
	CreatedAt         time.Time `db:"-"`
	UpdatedAt         time.Time `db:"-"`
	PasswordChangedAt time.Time `db:"-"`
	// HasFactor is true when the user has a confirmed second factor. Set
	// by the Store and by SessionManager.Load.
	HasFactor bool `db:"-"`
}

type userKey struct{}

// WithUser returns a context carrying the signed-in user.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the signed-in user, or nil when nobody is signed in.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
