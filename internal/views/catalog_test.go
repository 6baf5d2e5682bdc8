package views

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	templparser "github.com/a-h/templ/parser/v2"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
)

// verbatim is text that reads the same in every language (symbols, and
// names that are not translated).
var verbatim = map[string]bool{
	"·": true, "—": true, "–": true, "…": true, "/": true, "(": true, ")": true, ":": true,
	"UTC": true, "ModelArts": true, "ID": true, "SHA-256": true,
	// An HTTP header's name and a command are typed as they are.
	"X-Request-Id": true, "console audit verify": true,
}

// visibleAttrs are attributes whose value a person reads or hears.
var visibleAttrs = map[string]bool{
	"title": true, "placeholder": true, "alt": true, "aria-label": true,
	"aria-description": true, "aria-roledescription": true, "aria-placeholder": true,
	"aria-valuetext": true, "label": true,
}

// TestTemplatesUseTheCatalog fails when any template holds user-visible text that bypasses the catalog:
// literal text between tags, a literal string expression { "..." }, a
// literal in an attribute people read (title, aria-label, placeholder …)
// or a literal that reads like a sentence passed to another component
// (@Layout("Sign in")).
func TestTemplatesUseTheCatalog(t *testing.T) {
	files, err := filepath.Glob("*.templ")
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates found: %v", err)
	}
	for _, f := range files {
		for _, p := range bypassingText(t, f) {
			t.Errorf("%s: user-visible text bypasses the catalog: %s (use T(ctx, \"id\") and add the id to internal/i18n/locales/<lang>/<area>.json)", f, p)
		}
	}
}

// The check itself: a template with text in each of the forms it looks
// for is caught, and one that uses the catalog is not.
func TestTemplateTextCheckCatchesBypasses(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.templ")
	src := `package views

templ bad(name string) {
	@Layout("Some title") {
		<h1>Hello there</h1>
		<p title="Hover text">{ "Literal words" }</p>
		<button aria-label="Close it">×</button>
		if name != "" {
			<span>{ name } is here</span>
		}
	}
}
`
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := bypassingText(t, bad)
	for _, want := range []string{`"Some title"`, "Hello there", "Hover text", "Literal words", "Close it", "is here"} {
		if !containsSub(got, want) {
			t.Errorf("the check missed %q; it found %q", want, got)
		}
	}
	good := filepath.Join(dir, "good.templ")
	src = `package views

templ good(name string) {
	@Layout(T(ctx, "x.title")) {
		<h1 id="x-title" class="big">{ T(ctx, "x.hello") }</h1>
		<p title={ T(ctx, "x.hover") }>{ name } · 3</p>
		<p>{ N(ctx, "x.count", 2, "Name", name) }</p>
		@filterField("x-id", T(ctx, "x.label")) {
			<input id="x-id" name="q" type="text"/>
		}
	}
}
`
	if err := os.WriteFile(good, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := bypassingText(t, good); len(got) != 0 {
		t.Errorf("a template using the catalog was flagged: %q", got)
	}
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// bypassingText parses a templ file and returns each piece of literal,
// user-visible text in it.
func bypassingText(t *testing.T, path string) []string {
	t.Helper()
	tf, err := templparser.Parse(path)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var out []string
	for _, n := range tf.Nodes {
		if h, ok := n.(*templparser.HTMLTemplate); ok {
			walkNodes(h.Children, &out)
		}
	}
	return out
}

func hasLetters(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || verbatim[s] {
		return false
	}
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// sentenceLike reports whether a literal passed to a component reads like
// text for people rather than an id, name or class ("Sign in", not
// "signin-username" or "current-password").
func sentenceLike(s string) bool {
	if !hasLetters(s) {
		return false
	}
	return strings.ContainsAny(s, " .?!") || unicode.IsUpper([]rune(s)[0])
}

func walkNodes(nodes []templparser.Node, out *[]string) {
	for _, n := range nodes {
		switch n := n.(type) {
		case *templparser.Text:
			if hasLetters(n.Value) {
				*out = append(*out, "text "+strconv.Quote(strings.TrimSpace(n.Value)))
			}
		case *templparser.StringExpression:
			for _, lit := range goStringLiterals(n.Expression.Value, false) {
				*out = append(*out, "string expression "+strconv.Quote(lit))
			}
		case *templparser.Element:
			walkAttrs(n.Attributes, out)
			walkNodes(n.Children, out)
		case *templparser.ScriptElement, *templparser.RawElement:
			// Code and raw HTML are not text for people.
		case *templparser.TemplElementExpression:
			for _, lit := range goStringLiterals(n.Expression.Value, true) {
				*out = append(*out, "component argument "+strconv.Quote(lit))
			}
			walkNodes(n.Children, out)
		case *templparser.CallTemplateExpression:
			for _, lit := range goStringLiterals(n.Expression.Value, true) {
				*out = append(*out, "component argument "+strconv.Quote(lit))
			}
		case *templparser.IfExpression:
			walkNodes(n.Then, out)
			for _, e := range n.ElseIfs {
				walkNodes(e.Then, out)
			}
			walkNodes(n.Else, out)
		case *templparser.SwitchExpression:
			for _, c := range n.Cases {
				walkNodes(c.Children, out)
			}
		case *templparser.ForExpression:
			walkNodes(n.Children, out)
		}
	}
}

func walkAttrs(attrs []templparser.Attribute, out *[]string) {
	for _, a := range attrs {
		switch a := a.(type) {
		case *templparser.ConstantAttribute:
			if visibleAttrs[strings.ToLower(a.Key.String())] && hasLetters(a.Value) {
				*out = append(*out, "attribute "+a.Key.String()+"="+strconv.Quote(a.Value))
			}
		case *templparser.ExpressionAttribute:
			if visibleAttrs[strings.ToLower(a.Key.String())] {
				for _, lit := range goStringLiterals(a.Expression.Value, false) {
					*out = append(*out, "attribute "+a.Key.String()+"="+strconv.Quote(lit))
				}
			}
		case *templparser.ConditionalAttribute:
			walkAttrs(a.Then, out)
			walkAttrs(a.Else, out)
		}
	}
}

// goStringLiterals returns the string literals of a Go expression that
// people would read: not the ids passed to T and N, nor (for component
// arguments, onlySentences) literals that look like ids or names.
func goStringLiterals(expr string, onlySentences bool) []string {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return nil
	}
	var out []string
	ast.Inspect(e, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && isCatalogCall(call) {
			// The id is a key, not text, and so are the placeholder names
			// of the key, value pairs; the values may hold text.
			// T(ctx, id, key, value…) and N(ctx, id, count, key, value…).
			first := 3
			if call.Fun.(*ast.Ident).Name == "N" {
				first = 4
			}
			for i := first; i < len(call.Args); i += 2 {
				out = append(out, goStringLiterals(exprString(expr, call.Args[i]), onlySentences)...)
			}
			return false
		}
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		if (onlySentences && sentenceLike(s)) || (!onlySentences && hasLetters(s)) {
			out = append(out, s)
		}
		return true
	})
	return out
}

func isCatalogCall(call *ast.CallExpr) bool {
	id, ok := call.Fun.(*ast.Ident)
	return ok && (id.Name == "T" || id.Name == "N") && len(call.Args) >= 2
}

func exprString(src string, n ast.Node) string {
	// ParseExpr positions are 1-based offsets into src.
	return src[n.Pos()-1 : n.End()-1]
}

// catalogID matches the id of a T or N call: T(ctx, "id" or N(ctx, "id".
var catalogID = regexp.MustCompile(`\b[TN]\(ctx, "([a-zA-Z0-9_.-]+)"\s*[,)]`)

// TestCatalogHasEveryIDTheTemplatesUse fails when a template or view
// helper asks for a message the English catalog lacks (the catalogs'
// parity is TestCatalogsHaveTheSameKeys in internal/i18n).
func TestCatalogHasEveryIDTheTemplatesUse(t *testing.T) {
	files, err := filepath.Glob("*.templ")
	if err != nil {
		t.Fatal(err)
	}
	gofiles, _ := filepath.Glob("*.go")
	ids := i18n.MustLoad().IDs(i18n.English)
	var missing []string
	for _, f := range append(files, gofiles...) {
		if strings.HasSuffix(f, "_templ.go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range catalogID.FindAllStringSubmatch(string(b), -1) {
			if !ids[m[1]] {
				missing = append(missing, f+": "+m[1])
			}
		}
	}
	// Ids built from a value: one message per value.
	for _, th := range auth.Themes {
		missing = append(missing, need(ids, "settings.theme."+string(th))...)
	}
	for _, l := range i18n.Languages {
		missing = append(missing, need(ids, "lang."+l)...)
	}
	for _, r := range auth.Roles {
		missing = append(missing, need(ids, "role."+string(r))...)
	}
	for _, st := range modelarts.Statuses {
		missing = append(missing, need(ids, "status."+string(st))...)
	}
	for _, a := range modelarts.BatchTypes {
		missing = append(missing, need(ids, "action."+string(a))...)
		missing = append(missing, need(ids, "skip.not_from."+string(a))...)
	}
	for _, k := range append([]audit.EventKind{audit.KindRequest, audit.KindResponse, audit.KindOutcomeUnknown}, audit.EventKinds...) {
		missing = append(missing, need(ids, "audit.kind."+string(k))...)
	}
	for _, o := range audit.Outcomes {
		missing = append(missing, need(ids, "audit.outcome."+string(o))...)
	}
	for _, st := range []approval.State{approval.StatePending, approval.StateApproved, approval.StateDenied, approval.StateWithdrawn, approval.StateExpired} {
		missing = append(missing, need(ids, "approvals.state."+string(st))...)
	}
	for _, r := range auditQuickRanges {
		missing = append(missing, need(ids, r.id)...)
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("the catalog lacks %s", m)
	}
}

func need(ids map[string]bool, id string) []string {
	if ids[id] {
		return nil
	}
	return []string{"(built from a value): " + id}
}
