package approval

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/notify"
)

func actorOf(u *auth.User, m Meta) audit.Actor {
	return audit.Actor{UserID: u.ID, Name: u.Name, Role: string(u.Role), ClientIP: m.ClientIP, UserAgent: m.UserAgent}
}

// Detail keys of the approval.* audit events.
const (
	DetailRequestID = "request_id"
	DetailBatchID   = "batch_id"
)

// record writes an approval.* event: the request id, action, servers,
// requester, the reason (when asked) or the decision's comment, and what
// may be shown of the OS parameters. Nothing secret is in it.
func (s *Service) record(ctx context.Context, kind audit.EventKind, actor audit.Actor, r *Request, extra map[string]string) error {
	d := map[string]string{
		DetailRequestID: r.ID,
		"action":        string(r.Action),
		"servers":       serverList(r.Servers),
		"server_count":  strconv.Itoa(len(r.Servers)),
		"requester":     r.RequesterName,
		"state":         string(r.State),
	}
	switch kind {
	case EventRequested:
		d["reason"] = r.Reason
		d["expires_at"] = r.ExpiresAt.UTC().Format(time.RFC3339)
		if len(r.Skipped) > 0 {
			d["skipped_count"] = strconv.Itoa(len(r.Skipped))
		}
		if p := paramsText(r.Params); p != "" {
			d["os_params"] = p
		}
	default:
		if r.Comment != "" {
			d["comment"] = r.Comment
		}
	}
	if r.BatchID != "" {
		d[DetailBatchID] = r.BatchID
	}
	for k, v := range extra {
		d[k] = v
	}
	if err := s.audit.RecordProjectEvent(context.WithoutCancel(ctx), r.Project, kind, actor, d); err != nil {
		return fmt.Errorf("approval: record %s of %s: %w", kind, r.ID, err)
	}
	return nil
}

// serverList is "name (id), name (id), ..." for the audit log.
func serverList(ss []Server) string {
	parts := make([]string, len(ss))
	for i, sv := range ss {
		if sv.Name != "" && sv.Name != sv.ID {
			parts[i] = sv.Name + " (" + sv.ID + ")"
		} else {
			parts[i] = sv.ID
		}
	}
	return strings.Join(parts, ", ")
}

// paramsText says what may be shown of the OS parameters, in words.
func paramsText(p Params) string {
	var parts []string
	if p.ImageID != "" {
		img := "image " + p.ImageID
		if p.ImageName != "" {
			img = "image " + p.ImageName + " (" + p.ImageID + ")"
		}
		parts = append(parts, img)
	}
	if p.KeyPairName != "" {
		parts = append(parts, "key pair "+p.KeyPairName)
	}
	if p.PasswordSet {
		parts = append(parts, "password set")
	}
	if p.UserDataBytes > 0 {
		parts = append(parts, fmt.Sprintf("user data %d bytes, SHA-256 %s", p.UserDataBytes, p.UserDataSHA256))
	}
	return strings.Join(parts, "; ")
}

// ParamsText is the OS parameters in English words, as the audit log records
// them (os_params): the image, the key
// pair, "password set", the user data's size; never the secrets.
func ParamsText(p Params) string { return paramsText(p) }

// tell sends ev to the notifier, if any; it never blocks.
func (s *Service) tell(ev notify.Event) {
	if s.notifier != nil {
		s.notifier.Notify(ev)
	}
}

// Path is the console page of request id.
func Path(id string) string { return "/approvals/" + id }

// notifyEvent builds the webhook message about r reaching its state, in
// l's language; actor is who caused it ("" for the console).
func notifyEvent(l *i18n.Localizer, kind audit.EventKind, r *Request, actor string) notify.Event {
	action := string(r.Action)
	if l.Has("action." + action) {
		action = l.T("action." + action)
	}
	what := l.N("notify.what", len(r.Servers), "Action", action)
	ev := notify.Event{Kind: string(kind), Subject: r.ID, Path: Path(r.ID)}
	switch kind {
	case EventRequested:
		ev.Title = l.T("notify.requested.title", "What", what)
		ev.At = r.CreatedAt
		ev.Lines = []string{
			l.T("notify.requested.by", "Name", r.RequesterName, "Reason", r.Reason),
			l.T("notify.requested.expires", "Time", r.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")),
		}
	case EventApproved:
		ev.Title = l.T("notify.approved.title", "What", what)
		ev.At = r.DecidedAt
		ev.Lines = []string{l.T("notify.approved.by", "Name", r.RequesterName, "Actor", actor) + withComment(l, r.Comment)}
		if r.BatchID != "" {
			ev.Lines = append(ev.Lines, l.T("notify.approved.sent", "Batch", r.BatchID))
		} else if r.ExecCode != "" && l.Has("approvals.exec."+r.ExecCode) {
			ev.Lines = append(ev.Lines, l.T("approvals.exec."+r.ExecCode))
		} else if r.ExecError != "" {
			ev.Lines = append(ev.Lines, l.T("notify.approved.not_sent", "Error", strings.TrimPrefix(r.ExecError, "not sent: ")))
		}
	case EventDenied:
		ev.Title = l.T("notify.denied.title", "What", what)
		ev.At = r.DecidedAt
		ev.Lines = []string{l.T("notify.denied.by", "Name", r.RequesterName, "Actor", actor) + withComment(l, r.Comment), l.T("notify.nothing_sent")}
	case EventWithdrawn:
		ev.Title = l.T("notify.withdrawn.title", "What", what)
		ev.At = r.DecidedAt
		by := r.RequesterName
		if actor != "" && actor != r.RequesterName {
			by = actor
		}
		line := l.T("notify.withdrawn.by", "Name", r.RequesterName, "Actor", by)
		if r.Comment != "" {
			line += l.T("notify.withdrawn.comment", "Comment", r.Comment)
		}
		ev.Lines = []string{line + l.T("notify.withdrawn.end")}
	case EventExpired:
		ev.Title = l.T("notify.expired.title", "What", what)
		ev.At = r.DecidedAt
		ev.Lines = []string{l.T("notify.expired.line", "Name", r.RequesterName)}
	}
	if r.Project != "" {
		ev.Lines = append(ev.Lines, l.T("notify.project", "Name", r.Project))
	}
	return ev
}

func withComment(l *i18n.Localizer, c string) string {
	if c == "" {
		return l.T("notify.no_comment")
	}
	return l.T("notify.comment", "Comment", c)
}
