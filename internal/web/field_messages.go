package web

import (
	"strings"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
)

// The domain says what is wrong with a field as a code and its values
// (modelarts.FieldError, batch.FieldError, approval.ValidationError), and
// keeps an English sentence for logs; these functions word it in the
// person's language from the catalog. A problem without a code, or with a
// code the catalog does not know, shows the domain's English.

// osProblem words one problem with the OS settings (catalog
// "err.os.<code>"); english is the domain's sentence.
func osProblem(l *i18n.Localizer, code string, params map[string]any, rules []modelarts.Rule, english string) string {
	id := "err.os." + code
	if code == "" || !l.Has(id) {
		return english
	}
	kv := pairs(params)
	if t, ok := params["Type"].(string); ok {
		// The English catalog names the API's type (CHANGEOS), others
		// the action as the pages call it.
		action := t
		if l.Has("action." + t) {
			action = l.T("action." + t)
		}
		kv = append(kv, "Action", action)
	}
	if code == modelarts.CodePassword {
		words := make([]string, 0, len(rules))
		for _, r := range rules {
			if rid := "err.os.password." + r.Code; l.Has(rid) {
				words = append(words, l.T(rid, pairs(r.Params)...))
			} else {
				words = append(words, r.Message)
			}
		}
		if len(words) == 0 {
			return english
		}
		kv = append(kv, "Rules", strings.Join(words, l.T("err.os.password.sep")))
	}
	return l.T(id, kv...)
}

// osFieldMessages words the problems with the OS settings per form field
// (several of one field joined, as batch.FieldErrors.ByField joins them).
func osFieldMessages(l *i18n.Localizer, fe batch.FieldErrors) map[string]string {
	out := map[string]string{}
	for _, e := range fe {
		msg := osProblem(l, e.Code, e.Params, e.Rules, e.Message)
		if prev := out[e.Field]; prev != "" {
			out[e.Field] = prev + " " + msg
		} else {
			out[e.Field] = msg
		}
	}
	return out
}

// osParamsProblems words the problems modelarts found in a request's OS
// parameters as sentences.
func osParamsProblems(l *i18n.Localizer, errs modelarts.ValidationErrors) string {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = osProblem(l, e.Code, e.Params, e.Rules, e.Sentence())
	}
	return strings.Join(msgs, " ")
}

// approvalTextProblem words what is wrong with a reason or comment
// (catalog "err.approval.text.<code>"), to follow the field's name.
func approvalTextProblem(l *i18n.Localizer, ve *approval.ValidationError) string {
	if id := "err.approval.text." + ve.Code; ve.Code != "" && l.Has(id) {
		return l.T(id, pairs(ve.Params)...)
	}
	return ve.Message
}

// pairs turns params into the key, value pairs Localizer.T takes.
func pairs(params map[string]any) []any {
	out := make([]any, 0, 2*len(params))
	for k, v := range params {
		out = append(out, k, v)
	}
	return out
}
