package store

import (
	"context"
	"database/sql/driver"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
)

// The console's SQL is written with SQLite's "?" placeholders. On
// PostgreSQL the pools' connections rewrite them to $1, $2, ... before pgx
// sees the query (questionToDollar), so the packages' queries run unchanged
// on both engines; DB.Rebind does the same explicitly and is harmless on
// top. A "?" inside a string, a quoted identifier or a comment is left
// alone. PostgreSQL's jsonb operators ?, ?| and ?& cannot be written in the
// console's SQL (it has no jsonb).

// placeholderConnector makes connections that rewrite placeholders.
type placeholderConnector struct{ driver.Connector }

func (c placeholderConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &placeholderConn{Conn: conn.(*stdlib.Conn)}, nil
}

// placeholderConn is a pgx connection (every method of which it keeps)
// that rewrites the placeholders of the queries it is given.
type placeholderConn struct{ *stdlib.Conn }

func (c *placeholderConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(questionToDollar(query))
}

func (c *placeholderConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, questionToDollar(query))
}

func (c *placeholderConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, questionToDollar(query), args)
}

func (c *placeholderConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, questionToDollar(query), args)
}

// questionToDollar numbers the "?" placeholders of query as $1, $2, ...,
// skipping string literals ('…', E'…' with backslash escapes, $tag$…$tag$),
// quoted identifiers and comments. A query without "?" is returned as it is.
func questionToDollar(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i++
		case c == '\'':
			escapes := i > 0 && (query[i-1] == 'E' || query[i-1] == 'e') && (i == 1 || !isIdentByte(query[i-2]))
			j := skipQuoted(query, i, '\'', escapes)
			b.WriteString(query[i:j])
			i = j
		case c == '"':
			j := skipQuoted(query, i, '"', false)
			b.WriteString(query[i:j])
			i = j
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			j := skipBlockComment(query, i)
			b.WriteString(query[i:j])
			i = j
		case c == '$' && (i == 0 || !isIdentByte(query[i-1])):
			if tag, ok := dollarTag(query[i:]); ok {
				end := strings.Index(query[i+len(tag):], tag)
				j := len(query)
				if end >= 0 {
					j = i + len(tag) + end + len(tag)
				}
				b.WriteString(query[i:j])
				i = j
				continue
			}
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// skipQuoted returns the index just past the quoted text starting at
// query[i] (a doubled quote stays inside; with escapes, so does \q).
func skipQuoted(query string, i int, q byte, escapes bool) int {
	for j := i + 1; j < len(query); j++ {
		switch query[j] {
		case '\\':
			if escapes {
				j++
			}
		case q:
			if j+1 < len(query) && query[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(query)
}

// skipBlockComment returns the index just past the (nestable) comment
// starting at query[i].
func skipBlockComment(query string, i int) int {
	depth := 0
	for j := i; j+1 < len(query); j++ {
		switch {
		case query[j] == '/' && query[j+1] == '*':
			depth++
			j++
		case query[j] == '*' && query[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(query)
}

// dollarTag returns the opening $tag$ of a dollar-quoted string at the
// start of s ("$$" or "$name$"); "$1" is a parameter, not a tag.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1], true
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 1 && c >= '0' && c <= '9' || c >= 0x80) {
			return "", false
		}
	}
	return "", false
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
