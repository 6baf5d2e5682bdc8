// Package migrations holds the console's forward-only SQL schema migrations,
// embedded so the binary carries its own schema. Files are named
// NNNN_description.up.sql and applied in order by golang-migrate; a shipped
// migration is never edited.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
