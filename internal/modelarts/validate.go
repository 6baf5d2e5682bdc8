package modelarts

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Validation limits from the batch-action API page.
const (
	PasswordMinLen  = 8
	PasswordMaxLen  = 26
	UserDataMaxSize = 32 * 1024 // bytes, before base64 encoding
	// PasswordSpecials are the only special characters a password may hold.
	PasswordSpecials = "!@%-_=+[{}]:,./?"
	// DefaultLoginUser is the user name passwords are checked against.
	// DevServer images are Linux images whose admin_pass is the root
	// password, so the API's "not the user name" rule means "not root".
	DefaultLoginUser = "root"
)

var (
	uuidRE        = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	keyPairNameRE = regexp.MustCompile(`^[-_.a-zA-Z0-9]{1,64}$`)
)

// IsUUID reports whether s is a lower-case UUID as the API's ids are.
func IsUUID(s string) bool { return uuidRE.MatchString(s) }

// FieldError is one problem with one field of a request. Field uses the JSON
// path of the field, e.g. "servers[3].id" or "extend_param.admin_pass".
// Message is the problem in English (for logs, the command line and the
// simulator's answers); Code names the rule broken, stably, and Params the
// values its message names, so a caller can say it in another language
// (the console's pages do: catalog ids "err.os.<Code>"). A password breaks
// one or more rules at once: Code "password", each in Rules.
type FieldError struct {
	Field   string
	Message string
	Code    string
	Params  map[string]any
	Rules   []Rule
}

// Rule is one rule a value breaks: a stable code, the values its message
// names, and the message in English.
type Rule struct {
	Code    string
	Params  map[string]any
	Message string
}

// Codes of the problems ValidateOSParams finds (FieldError.Code).
const (
	CodeOSParamsNotAllowed = "os_params_not_allowed" // Params: Type
	CodeOSParamsRequired   = "os_params_required"    // Params: Type
	CodeImageRequired      = "image_required"
	CodeImageIDInvalid     = "image_id_invalid" // Params: ImageID
	CodeLoginBoth          = "login_both"
	CodeLoginMissing       = "login_missing"
	CodeKeyPairNameInvalid = "key_pair_name_invalid"
	CodePassword           = "password" // the rules broken are in Rules
	CodeUserDataFormat     = "user_data_format"
	CodeUserDataEncodedBig = "user_data_encoded_too_large" // Params: Max
	CodeUserDataBase64     = "user_data_base64"
	CodeUserDataTooLarge   = "user_data_too_large" // Params: Size, Max
)

// Codes of the password rules (Rule.Code).
const (
	PasswordLength    = "length"    // Params: Min, Max, Len
	PasswordCharset   = "charset"   // Params: Specials
	PasswordClasses   = "classes"   // Params: Specials
	PasswordUsername  = "username"  // Params: Username
	PasswordForbidden = "forbidden" // "root", "administrator" or either reversed
)

// PasswordError lists the rules a password breaks; its Error is the
// English sentence and never repeats the password.
type PasswordError struct{ Rules []Rule }

func (e *PasswordError) Error() string {
	msgs := make([]string, len(e.Rules))
	for i, r := range e.Rules {
		msgs[i] = r.Message
	}
	return "password " + strings.Join(msgs, "; ")
}

// ValidationErrors lists every problem found in a request, in field order.
type ValidationErrors []FieldError

// Sentence is e's English message as a sentence: capitalised, ending with
// a full stop (the console's own wording where no translation applies).
func (e FieldError) Sentence() string {
	msg := e.Message
	if msg == "" {
		return ""
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// Error joins the problems as "field: message; field: message".
func (v ValidationErrors) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Field + ": " + e.Message
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// For returns the messages for field joined by "; ", or "" when the field has
// no problem, so a form can show each message next to its input.
func (v ValidationErrors) For(field string) string {
	var msgs []string
	for _, e := range v {
		if e.Field == field {
			msgs = append(msgs, e.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

// add appends the problem code (with params, as key, value pairs) at field.
func (v *ValidationErrors) add(field, code string, params []any, format string, args ...any) {
	*v = append(*v, FieldError{Field: field, Message: fmt.Sprintf(format, args...), Code: code, Params: kv(params)})
}

// kv turns key, value pairs into a map (nil for none).
func kv(pairs []any) map[string]any {
	if len(pairs) == 0 {
		return nil
	}
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		k, _ := pairs[i].(string)
		m[k] = pairs[i+1]
	}
	return m
}

// Validate checks a batch request against the rules of the batch-action API
// before anything is sent:
//   - type is one of the six batch types;
//   - there is at least one server, every id is a lower-case UUID and no id
//     is listed twice;
//   - extend_param is given for CHANGEOS and REINSTALLOS only (an empty
//     extend_param counts as absent), and then follows ValidateOSParams.
//
// Passwords are checked against the user name "root" (DefaultLoginUser):
// DevServer images are Linux images and admin_pass sets root's password.
// It returns nil or a ValidationErrors.
func (r *BatchRequest) Validate() error {
	var errs ValidationErrors
	switch {
	case r.Type == "":
		errs.add("type", "type_required", nil, "choose an action: one of %s", batchTypeList())
	case !r.Type.Valid():
		errs.add("type", "type_unknown", []any{"Type", truncate(string(r.Type), 40)}, "unknown action %q; use one of %s", truncate(string(r.Type), 40), batchTypeList())
	}

	if len(r.Servers) == 0 {
		errs.add("servers", "servers_required", nil, "select at least one server")
	}
	firstSeen := make(map[string]int, len(r.Servers))
	for i, s := range r.Servers {
		field := fmt.Sprintf("servers[%d].id", i)
		switch {
		case s.ID == "":
			errs.add(field, "server_id_required", nil, "server id is required")
			continue
		case !IsUUID(s.ID):
			if IsUUID(strings.ToLower(s.ID)) {
				errs.add(field, "server_id_case", []any{"ID", truncate(s.ID, 64)}, "server id must be lower-case (got %q)", truncate(s.ID, 64))
			} else {
				errs.add(field, "server_id_invalid", []any{"ID", truncate(s.ID, 64)}, "server id %q is not a DevServer id (a UUID such as 11111111-2222-4333-8444-555555555555)", truncate(s.ID, 64))
			}
			continue
		}
		if j, dup := firstSeen[s.ID]; dup {
			errs.add(field, "server_duplicate", []any{"ID", s.ID, "Index", j}, "server %s is listed twice (also servers[%d])", s.ID, j)
			continue
		}
		firstSeen[s.ID] = i
	}

	if r.Type.Valid() {
		errs = append(errs, ValidateOSParams(r.Type, r.ExtendParam)...)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// ValidateOSParams checks extend_param alone for batch type t, so a form can
// check the OS fields as the user types. For CHANGEOS and REINSTALLOS:
//   - image_id is required for CHANGEOS and, when given, is a lower-case UUID;
//   - exactly one of admin_pass and key_pair_name;
//   - key_pair_name matches ^[-_.a-zA-Z0-9]{1,64}$;
//   - admin_pass follows ValidatePassword for user "root";
//   - user_data is standard base64 on one line, decoding to at most 32 KiB.
//
// For the other types p must be nil or empty. A nil p is treated as empty.
func ValidateOSParams(t BatchType, p *ServerOSRequest) ValidationErrors {
	var errs ValidationErrors
	empty := p == nil || *p == (ServerOSRequest{})
	if !t.NeedsOSParams() {
		if !empty {
			errs.add("extend_param", CodeOSParamsNotAllowed, []any{"Type", truncate(string(t), 40)}, "OS parameters are only allowed for CHANGEOS and REINSTALLOS, not %s", truncate(string(t), 40))
		}
		return errs
	}
	if p == nil {
		p = &ServerOSRequest{}
	}
	if empty {
		errs.add("extend_param", CodeOSParamsRequired, []any{"Type", string(t)}, "%s needs OS parameters: an admin password or a key pair name", t)
	}

	switch {
	case p.ImageID == "" && t == BatchChangeOS:
		errs.add("extend_param.image_id", CodeImageRequired, nil, "choose the image to change to")
	case p.ImageID != "" && !IsUUID(p.ImageID):
		errs.add("extend_param.image_id", CodeImageIDInvalid, []any{"ImageID", truncate(p.ImageID, 64)}, "image id %q is not a lower-case UUID", truncate(p.ImageID, 64))
	}

	switch {
	case p.AdminPass != "" && p.KeyPairName != "":
		errs.add("extend_param", CodeLoginBoth, nil, "give either an admin password or a key pair name, not both")
	case p.AdminPass == "" && p.KeyPairName == "" && !empty:
		errs.add("extend_param", CodeLoginMissing, nil, "give either an admin password or a key pair name")
	}
	if p.KeyPairName != "" && !keyPairNameRE.MatchString(p.KeyPairName) {
		errs.add("extend_param.key_pair_name", CodeKeyPairNameInvalid, nil, "key pair name must be 1 to 64 letters, digits, '-', '_' or '.'")
	}
	if p.AdminPass != "" {
		if err := ValidatePassword(p.AdminPass, DefaultLoginUser); err != nil {
			fe := FieldError{Field: "extend_param.admin_pass", Message: err.Error(), Code: CodePassword}
			var pe *PasswordError
			if errors.As(err, &pe) {
				fe.Rules = pe.Rules
			}
			errs = append(errs, fe)
		}
	}
	if p.UserData != "" {
		if r := checkUserData(p.UserData); r != nil {
			errs = append(errs, FieldError{Field: "extend_param.user_data", Message: r.Message, Code: r.Code, Params: r.Params})
		}
	}
	return errs
}

// ValidatePassword checks an admin password against the API's rules:
// 8 to 26 characters; only letters, digits and the specials
// !@%-_=+[{}]:,./? ; at least three of upper-case, lower-case, digits and
// specials; not the user name or the user name reversed; and not containing
// "root", "administrator" or either reversed. The name checks ignore case.
// The error lists every rule broken and never repeats the password.
func ValidatePassword(pass, username string) error {
	var rules []Rule
	broke := func(code, msg string, params ...any) {
		rules = append(rules, Rule{Code: code, Params: kv(params), Message: msg})
	}
	if n := utf8.RuneCountInString(pass); n < PasswordMinLen || n > PasswordMaxLen {
		broke(PasswordLength, fmt.Sprintf("must be %d to %d characters long (it is %d)", PasswordMinLen, PasswordMaxLen, n),
			"Min", PasswordMinLen, "Max", PasswordMaxLen, "Len", n)
	}
	var upper, lower, digit, special, other bool
	for _, c := range pass {
		switch {
		case 'A' <= c && c <= 'Z':
			upper = true
		case 'a' <= c && c <= 'z':
			lower = true
		case '0' <= c && c <= '9':
			digit = true
		case strings.ContainsRune(PasswordSpecials, c):
			special = true
		default:
			other = true
		}
	}
	if other {
		broke(PasswordCharset, "may only contain letters, digits and the special characters "+PasswordSpecials, "Specials", PasswordSpecials)
	}
	classes := 0
	for _, b := range []bool{upper, lower, digit, special} {
		if b {
			classes++
		}
	}
	if classes < 3 {
		broke(PasswordClasses, "must mix at least three of: upper-case letters, lower-case letters, digits, special characters ("+PasswordSpecials+")",
			"Specials", PasswordSpecials)
	}
	lp := strings.ToLower(pass)
	if u := strings.ToLower(username); u != "" && (lp == u || lp == reverse(u)) {
		broke(PasswordUsername, fmt.Sprintf("must not be the user name (%s) or the user name reversed", username), "Username", username)
	}
	for _, w := range []string{"root", "administrator"} {
		if strings.Contains(lp, w) || strings.Contains(lp, reverse(w)) {
			broke(PasswordForbidden, `must not contain "root", "administrator" or either spelled backwards`)
			break
		}
	}
	if len(rules) == 0 {
		return nil
	}
	return &PasswordError{Rules: rules}
}

// checkUserData returns the problem when s is not one line of standard,
// padded base64 decoding to at most UserDataMaxSize bytes, else nil.
func checkUserData(s string) *Rule {
	if strings.ContainsAny(s, "\r\n \t") {
		return &Rule{Code: CodeUserDataFormat, Message: "user data must be standard base64 on a single line, without spaces or line breaks"}
	}
	// Reject oversize input before decoding it.
	if base64.StdEncoding.DecodedLen(len(s)) > UserDataMaxSize+3 {
		return &Rule{Code: CodeUserDataEncodedBig, Params: kv([]any{"Max", UserDataMaxSize}),
			Message: fmt.Sprintf("user data is larger than %d bytes (32 KiB) before encoding", UserDataMaxSize)}
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return &Rule{Code: CodeUserDataBase64, Message: "user data is not valid standard base64 (A–Z, a–z, 0–9, '+', '/', '=' padding)"}
	}
	if len(raw) > UserDataMaxSize {
		return &Rule{Code: CodeUserDataTooLarge, Params: kv([]any{"Size", len(raw), "Max", UserDataMaxSize}),
			Message: fmt.Sprintf("user data is %d bytes before encoding; the limit is %d bytes (32 KiB)", len(raw), UserDataMaxSize)}
	}
	return nil
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func batchTypeList() string {
	names := make([]string, len(BatchTypes))
	for i, t := range BatchTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}
