// Package logging builds the console's structured logger (log/slog).
package logging

import (
	"io"
	"log/slog"
)

// New returns a logger writing to w at level (debug, info, warn or error;
// anything else means info).
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
