package batch

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
)

// Target is a server a prepared action will be sent to, as the fleet showed
// it when the action was previewed.
type Target struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	Status     modelarts.Status     `json:"status"`
	ServerType modelarts.ServerType `json:"server_type,omitempty"`
	Arch       modelarts.Arch       `json:"arch,omitempty"`
	Flavor     string               `json:"flavor,omitempty"`
}

// Skip is a selected server the action is not sent to, and why.
type Skip struct {
	ID     string           `json:"id"`
	Name   string           `json:"name,omitempty"`
	Status modelarts.Status `json:"status,omitempty"`
	Reason string           `json:"reason"`
}

// ReasonVanished is the skip reason of a selected server that is no longer
// in the fleet.
const ReasonVanished = "no longer in the fleet"

// Prepared is a previewed action waiting for confirmation.
type Prepared struct {
	// Token is the one-time token, set only on the value Prepare returns;
	// the store keeps just its hash.
	Token     string
	UserID    int64
	UserName  string
	Action    modelarts.BatchType
	Targets   []Target
	Skipped   []Skip
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt and BatchID are set once the action was executed.
	UsedAt  time.Time
	BatchID string
	// ApprovalID is set instead of BatchID when the confirmation became an
	// approval request (Submit).
	ApprovalID string
	// Images are the images a Change OS of the targets can use, read once
	// from ModelArts when the action was prepared and kept with it: nil
	// when they could not be read (ImagesErr says why, on the value Prepare
	// returned) or the action is not a Change OS.
	Images    []modelarts.ServerImageResponse
	ImagesErr error

	// tokenHash is the key of the stored prepared action.
	tokenHash string
}

// Used reports whether the prepared action has been executed.
func (p *Prepared) Used() bool { return p.BatchID != "" || p.ApprovalID != "" }

// Landing is the page a used prepared action leads to: its batch, or the
// approval request it became.
func (p *Prepared) Landing() string {
	if p.BatchID == "" && p.ApprovalID != "" {
		return "/approvals/" + p.ApprovalID
	}
	return "/batches/" + p.BatchID
}

// Platform returns the one server type and architecture shared by every
// target, or a *MixedPlatformError naming the mix when they differ.
// flavor is the targets' common flavor, or "" when they differ.
func (p *Prepared) Platform() (t modelarts.ServerType, a modelarts.Arch, flavor string, err error) {
	type plat struct {
		t modelarts.ServerType
		a modelarts.Arch
	}
	seen := map[plat]bool{}
	flavors := map[string]bool{}
	var order []plat
	for _, tg := range p.Targets {
		k := plat{tg.ServerType, tg.Arch}
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
		flavors[tg.Flavor] = true
	}
	if len(order) == 0 {
		return "", "", "", ErrNothingToSend
	}
	if len(order) > 1 {
		names := make([]string, len(order))
		for i, k := range order {
			names[i] = platformName(k.t, k.a)
		}
		return "", "", "", &MixedPlatformError{Platforms: names}
	}
	if len(flavors) == 1 {
		for f := range flavors {
			flavor = f
		}
	}
	return order[0].t, order[0].a, flavor, nil
}

func platformName(t modelarts.ServerType, a modelarts.Arch) string {
	ts, as := string(t), string(a)
	if ts == "" {
		ts = "unknown type"
	}
	if as == "" {
		as = "unknown architecture"
	}
	return ts + "/" + as
}

// Prepare checks action against every selected server in snap and stores
// the result under a new one-time token: eligible servers become targets,
// the others are skipped with the reason (ids missing from snap are skipped
// as no longer in the fleet). Nothing is sent.
func (s *Service) Prepare(ctx context.Context, user *auth.User, action modelarts.BatchType, serverIDs []string, snap *fleet.Snapshot) (*Prepared, error) {
	return s.prepare(ctx, user, action, serverIDs, snap, nil)
}

// PrepareApproved is Prepare for an approved request run as its requester:
// eligibility is judged on snap (read now), and changed, given each
// eligible server as it is now, returns a reason to skip it (a state that
// changed since the request) or "". Skipped servers are never sent.
func (s *Service) PrepareApproved(ctx context.Context, requester *auth.User, action modelarts.BatchType, serverIDs []string,
	snap *fleet.Snapshot, changed func(id string, now Target) string) (*Prepared, error) {
	return s.prepare(ctx, requester, action, serverIDs, snap, changed)
}

func (s *Service) prepare(ctx context.Context, user *auth.User, action modelarts.BatchType, serverIDs []string,
	snap *fleet.Snapshot, changed func(id string, now Target) string) (*Prepared, error) {
	if user == nil {
		return nil, ErrTokenUnknown
	}
	if !action.Valid() {
		return nil, fmt.Errorf("%w %q", ErrInvalidAction, action)
	}
	if len(serverIDs) == 0 {
		return nil, ErrNoSelection
	}
	now := s.now()
	p := &Prepared{
		UserID:    user.ID,
		UserName:  user.Name,
		Action:    action,
		CreatedAt: now,
		ExpiresAt: now.Add(s.tokenTTL),
		Targets:   []Target{},
		Skipped:   []Skip{},
	}
	seen := make(map[string]bool, len(serverIDs))
	for _, id := range serverIDs {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		srv, ok := snap.Find(id)
		if !ok {
			p.Skipped = append(p.Skipped, Skip{ID: id, Reason: ReasonVanished})
			continue
		}
		if ok, reason := modelarts.Eligible(action, srv); !ok {
			p.Skipped = append(p.Skipped, Skip{ID: srv.ID, Name: srv.Name, Status: srv.Status, Reason: reason})
			continue
		}
		t := Target{
			ID: srv.ID, Name: srv.Name, Status: srv.Status,
			ServerType: srv.Type(), Arch: srv.Arch(), Flavor: srv.Flavor,
		}
		if changed != nil {
			if reason := changed(srv.ID, t); reason != "" {
				p.Skipped = append(p.Skipped, Skip{ID: srv.ID, Name: srv.Name, Status: srv.Status, Reason: reason})
				continue
			}
		}
		p.Targets = append(p.Targets, t)
	}
	byName := func(a, b string, ai, bi string) int { return cmp.Or(cmp.Compare(a, b), cmp.Compare(ai, bi)) }
	slices.SortStableFunc(p.Targets, func(a, b Target) int { return byName(a.Name, b.Name, a.ID, b.ID) })
	slices.SortStableFunc(p.Skipped, func(a, b Skip) int { return byName(a.Name, b.Name, a.ID, b.ID) })
	images := ""
	if action == modelarts.BatchChangeOS && len(p.Targets) > 0 {
		// The one images call of a Change OS: what is offered now is what
		// the review and the execution check against.
		p.Images, p.ImagesErr = s.listImages(ctx, p)
		if p.ImagesErr == nil {
			raw, err := json.Marshal(p.Images)
			if err != nil {
				return nil, fmt.Errorf("batch: prepare: %w", err)
			}
			images = string(raw)
		}
	}

	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("batch: prepare: token: %w", err)
	}
	p.Token = base64.RawURLEncoding.EncodeToString(raw[:])
	targets, err := json.Marshal(p.Targets)
	if err != nil {
		return nil, fmt.Errorf("batch: prepare: %w", err)
	}
	skipped, err := json.Marshal(p.Skipped)
	if err != nil {
		return nil, fmt.Errorf("batch: prepare: %w", err)
	}
	tx, err := s.db.Write.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("batch: prepare: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	// Old previews are kept a day past expiry so a late resubmit still finds
	// its batch; after that they go.
	if _, err := tx.ExecContext(ctx, `DELETE FROM prepared_actions WHERE expires_at < ?`,
		now.Add(-24*time.Hour).UnixMilli()); err != nil {
		return nil, fmt.Errorf("batch: prepare: prune: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO prepared_actions
		(token_hash, user_id, user_name, action, targets, skipped, created_at, expires_at, images, project)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		hashToken(p.Token), p.UserID, p.UserName, string(action), string(targets), string(skipped),
		now.UnixMilli(), p.ExpiresAt.UnixMilli(), images, s.project); err != nil {
		return nil, fmt.Errorf("batch: prepare: insert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("batch: prepare: commit: %w", err)
	}
	p.tokenHash = hashToken(p.Token)
	return p, nil
}

// hashToken is what the store keeps of a token.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

type preparedRow struct {
	UserID    int64          `db:"user_id"`
	UserName  string         `db:"user_name"`
	Action    string         `db:"action"`
	Targets   string         `db:"targets"`
	Skipped   string         `db:"skipped"`
	CreatedAt int64          `db:"created_at"`
	ExpiresAt int64          `db:"expires_at"`
	UsedAt    sql.NullInt64  `db:"used_at"`
	BatchID   sql.NullString `db:"batch_id"`
	Approval  string         `db:"approval_id"`
	Images    string         `db:"images"`
	Project   string         `db:"project"`
}

func (r *preparedRow) toPrepared() (*Prepared, error) {
	p := &Prepared{
		UserID:     r.UserID,
		UserName:   r.UserName,
		Action:     modelarts.BatchType(r.Action),
		CreatedAt:  time.UnixMilli(r.CreatedAt),
		ExpiresAt:  time.UnixMilli(r.ExpiresAt),
		BatchID:    r.BatchID.String,
		ApprovalID: r.Approval,
	}
	if r.UsedAt.Valid {
		p.UsedAt = time.UnixMilli(r.UsedAt.Int64)
	}
	if err := json.Unmarshal([]byte(r.Targets), &p.Targets); err != nil {
		return nil, fmt.Errorf("batch: decode targets: %w", err)
	}
	if err := json.Unmarshal([]byte(r.Skipped), &p.Skipped); err != nil {
		return nil, fmt.Errorf("batch: decode skipped: %w", err)
	}
	if r.Images != "" {
		if err := json.Unmarshal([]byte(r.Images), &p.Images); err != nil {
			return nil, fmt.Errorf("batch: decode images: %w", err)
		}
	}
	return p, nil
}

// Lookup returns the prepared action of token for user, used or not. It
// returns ErrTokenUnknown when the token does not exist or is someone
// else's, and ErrTokenExpired (with the prepared action) when it is unused
// and too old to confirm.
func (s *Service) Lookup(ctx context.Context, user *auth.User, token string) (*Prepared, error) {
	if user == nil || token == "" {
		return nil, ErrTokenUnknown
	}
	var r preparedRow
	err := s.db.Read.GetContext(ctx, &r, `SELECT user_id, user_name, action, targets, skipped,
		created_at, expires_at, used_at, batch_id, approval_id, images, project FROM prepared_actions WHERE token_hash = ?`, hashToken(token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrTokenUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("batch: lookup token: %w", err)
	}
	if r.UserID != user.ID || r.Project != s.project {
		return nil, ErrTokenUnknown
	}
	p, err := r.toPrepared()
	if err != nil {
		return nil, err
	}
	p.Token, p.tokenHash = token, hashToken(token)
	if !p.Used() && !s.now().Before(p.ExpiresAt) {
		return p, ErrTokenExpired
	}
	return p, nil
}

// imagesProblem says why a Change OS of p cannot go on for lack of images:
// a *MixedPlatformError, an *ImagesUnavailableError (the list could not be
// read when the action was prepared) or ErrNoImages; nil when there are
// images to choose from.
func (p *Prepared) imagesProblem() error {
	if _, _, _, err := p.Platform(); err != nil {
		return err
	}
	if p.Images == nil {
		if p.ImagesErr != nil {
			return &ImagesUnavailableError{Err: p.ImagesErr}
		}
		return &ImagesUnavailableError{Err: errors.New("the image list was not read when the action was previewed")}
	}
	if len(p.Images) == 0 {
		return ErrNoImages
	}
	return nil
}

// ImagesProblem is imagesProblem for the preview: nil for any action but
// Change OS.
func (p *Prepared) ImagesProblem() error {
	if p.Action != modelarts.BatchChangeOS || len(p.Targets) == 0 {
		return nil
	}
	return p.imagesProblem()
}

// listImages lists the ACTIVE images a Change OS of p can use: those of the
// targets' one server type and architecture (and flavor, when they share
// one), sorted by name. It returns a *MixedPlatformError when the targets
// differ (and asks ModelArts nothing).
func (s *Service) listImages(ctx context.Context, p *Prepared) ([]modelarts.ServerImageResponse, error) {
	t, a, flavor, err := p.Platform()
	if err != nil {
		return nil, err
	}
	imgs, err := s.cloud.ListImages(ctx, modelarts.ImageQuery{ServerType: t, FlavorName: flavor})
	if err != nil {
		return nil, fmt.Errorf("batch: list images: %w", err)
	}
	out := make([]modelarts.ServerImageResponse, 0, len(imgs))
	for _, img := range imgs {
		if img.Status != modelarts.ImageActive || img.ImageID == "" {
			continue
		}
		if (img.ServerType != "" && img.ServerType != t) || (img.Arch != "" && img.Arch != a) {
			continue
		}
		out = append(out, img)
	}
	slices.SortStableFunc(out, func(x, y modelarts.ServerImageResponse) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.ImageID, y.ImageID))
	})
	return out, nil
}

// Review checks a destructive action's settings before the confirmation
// dialog: the token (ErrTokenUnknown, ErrTokenExpired), that the action
// needs a confirmation (ErrNotDestructive), that there is something to send
// (ErrNothingToSend), the images (see ImagesProblem) and the OS settings
// (FieldErrors, including an image that is not offered). It returns the
// prepared action whenever it could load it — a used one with a nil error,
// for the caller to show its batch — and what the dialog may show of the
// OS settings. Nothing is sent.
func (s *Service) Review(ctx context.Context, user *auth.User, token string, in *OSInput) (*Prepared, Params, error) {
	p, err := s.Lookup(ctx, user, token)
	if err != nil || p.Used() {
		return p, Params{}, err
	}
	if !p.Action.Destructive() {
		return p, Params{}, ErrNotDestructive
	}
	extend, imageName, err := p.check(in)
	if err != nil {
		return p, Params{}, err
	}
	return p, DescribeParams(extend, imageName), nil
}

// check is the one decision whether p may be sent with the OS settings in:
// something to send, images offered, the settings valid and the image one
// of those offered. It returns the extend_param to send and the image's name.
func (p *Prepared) check(in *OSInput) (*modelarts.ServerOSRequest, string, error) {
	if len(p.Targets) == 0 {
		return nil, "", ErrNothingToSend
	}
	if !p.Action.NeedsOSParams() {
		return nil, "", nil
	}
	if in == nil {
		in = &OSInput{}
	}
	if err := p.ImagesProblem(); err != nil {
		return nil, "", err
	}
	errs := CheckOS(p.Action, *in)
	imageName := ""
	if p.Action == modelarts.BatchChangeOS && len(fieldsNamed(errs, FieldImage)) == 0 {
		name, err := p.checkImage(*in)
		var fe FieldErrors
		switch {
		case errors.As(err, &fe):
			errs = append(errs, fe...)
		case err != nil:
			return nil, "", err
		}
		imageName = name
	}
	if len(errs) > 0 {
		return nil, "", errs
	}
	cp := in.Params
	return &cp, imageName, nil
}

func fieldsNamed(errs FieldErrors, field string) FieldErrors {
	var out FieldErrors
	for _, e := range errs {
		if e.Field == field {
			out = append(out, e)
		}
	}
	return out
}
