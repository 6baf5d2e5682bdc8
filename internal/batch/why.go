package batch

import (
	"sync"

	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
)

// Why is a reason in words as a catalog message: its id and its values as
// key, value pairs. A value that is itself a Why is a nested reason; a
// modelarts.Status or modelarts.BatchType is shown by its display name.
// The batch package decides which reason applies; the catalog words it in
// each language.
type Why struct {
	ID   string
	Args []any
}

// Names shows statuses and actions in a reader's language.
type Names struct {
	Status func(modelarts.Status) string
	Action func(modelarts.BatchType) string
}

// Text renders w with l, its statuses and actions named by names; "" for
// the zero Why.
func (w Why) Text(l *i18n.Localizer, names Names) string {
	if w.ID == "" {
		return ""
	}
	args := make([]any, len(w.Args))
	for i, a := range w.Args {
		switch v := a.(type) {
		case Why:
			a = v.Text(l, names)
		case modelarts.Status:
			if names.Status != nil {
				a = names.Status(v)
			} else {
				a = string(v)
			}
		case modelarts.BatchType:
			if names.Action != nil {
				a = names.Action(v)
			} else {
				a = string(v)
			}
		}
		args[i] = a
	}
	return l.T(w.ID, args...)
}

var english = sync.OnceValue(func() *i18n.Localizer { return i18n.MustLoad().Localizer(i18n.English) })

// English renders w in English with the API's status and action values,
// for logs, the audit log and the webhook.
func (w Why) English() string { return w.Text(english(), Names{}) }
