package store

import "testing"

func TestQuestionToDollar(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT ? , ?`, `SELECT $1 , $2`},
		{`INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT (a) DO UPDATE SET b = ?`, `INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO UPDATE SET b = $3`},
		{`SELECT 'why?', ?`, `SELECT 'why?', $1`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`SELECT E'it\'s ?', ?`, `SELECT E'it\'s ?', $1`},
		{`SELECT e'\\', ?`, `SELECT e'\\', $1`},
		{`SELECT name'x\', ?`, `SELECT name'x\', $1`}, // not an E string: the backslash is a character
		{`SELECT "odd?col" FROM t WHERE a = ?`, `SELECT "odd?col" FROM t WHERE a = $1`},
		{`SELECT "a""?" , ?`, `SELECT "a""?" , $1`},
		{"SELECT ? -- really?\n, ?", "SELECT $1 -- really?\n, $2"},
		{"SELECT ? /* why? /* nested? */ still? */ , ?", "SELECT $1 /* why? /* nested? */ still? */ , $2"},
		{`SELECT $$a?b$$, ?`, `SELECT $$a?b$$, $1`},
		{`SELECT $fn$ ? $x$ ? $fn$, ?`, `SELECT $fn$ ? $x$ ? $fn$, $1`},
		{`SELECT $1, ?`, `SELECT $1, $1`}, // not a dollar quote; mixing the two styles is not supported, but nothing is swallowed
		{`SELECT a$b$ FROM t WHERE x = ?`, `SELECT a$b$ FROM t WHERE x = $1`},
		{`SELECT 'unterminated ?`, `SELECT 'unterminated ?`},
		{`SELECT ?` + "\u00e9" + `?`, `SELECT $1` + "\u00e9" + `$2`},
	} {
		if got := questionToDollar(tt.in); got != tt.want {
			t.Errorf("questionToDollar(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
