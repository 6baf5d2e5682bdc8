// Package logging builds the console's structured logger (log/slog): text or
// JSON lines, errors under the key "err", and the id of the HTTP request
// being served on every line written while serving it.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// Formats of the log (CONSOLE_LOG_FORMAT).
const (
	FormatText = "text"
	FormatJSON = "json"
)

// ErrKey is the one key under which log lines carry an error.
const ErrKey = "err"

// Err is the attribute of an error in a log line.
func Err(err error) slog.Attr { return slog.Any(ErrKey, err) }

// New returns a logger writing to w at level (debug, info, warn or error;
// anything else means info) in format (text or json; anything else means
// text). Every line logged with a context that carries a request id (see
// WithRequestID) gets a request_id attribute.
func New(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler
	if format == FormatJSON {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(RequestIDHandler{h})
}

// ValidFormat reports whether f is a log format New knows.
func ValidFormat(f string) error {
	if f != FormatText && f != FormatJSON {
		return fmt.Errorf("log format %q: want text or json", f)
	}
	return nil
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request being served.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestIDHandler adds the request id from the context of each record to
// the record, so no call site has to remember it.
type RequestIDHandler struct{ slog.Handler }

// Handle adds request_id when ctx carries one.
func (h RequestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the request id on loggers derived with With.
func (h RequestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return RequestIDHandler{h.Handler.WithAttrs(as)}
}

// WithGroup keeps the request id on loggers derived with WithGroup.
func (h RequestIDHandler) WithGroup(name string) slog.Handler {
	return RequestIDHandler{h.Handler.WithGroup(name)}
}
