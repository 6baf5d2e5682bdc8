// Package migrations holds the console's forward-only SQL schema migrations,
// embedded so the binary carries its own schema. Files are named
// NNNN_description.up.sql and applied in order by golang-migrate; a shipped
// migration is never edited.
//
// There is one set per engine with the same numbers and the same schema
// shape: SQLite's in this directory, PostgreSQL's in postgres/. Every
// migration is written for both (internal/store's tests compare the tables
// and columns the two sets create).
package migrations

import (
	"embed"
	"io/fs"
)

// FS holds every SQLite migration file.
//
//go:embed *.sql
var FS embed.FS

//go:embed postgres/*.sql
var postgresFS embed.FS

// Postgres holds every PostgreSQL migration file, at its root.
var Postgres = func() fs.FS {
	sub, err := fs.Sub(postgresFS, "postgres")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}()
