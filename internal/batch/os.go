package batch

import (
	"strings"

	"github.com/devserver-console/console/internal/modelarts"
)

// Login methods of a Change OS / Reinstall OS.
const (
	LoginKeyPair  = "key_pair"
	LoginPassword = "password"
)

// Fields of the OS settings, as FieldError.Field names them.
const (
	FieldImage    = "image_id"
	FieldLogin    = "login"
	FieldKeyPair  = "key_pair_name"
	FieldPassword = "admin_pass"
	FieldUserData = "user_data"
)

// OSInput is the OS settings a person gave for a Change OS or Reinstall OS:
// the parameters and the login method chosen ("" when the form offered no
// choice; then whichever of key pair and password is given counts).
type OSInput struct {
	Login  string
	Params modelarts.ServerOSRequest
}

// FieldError is one problem with one OS setting: Message is the sentence
// in English (logs, tests); Code, Params and Rules say it for a page to
// word in its language (modelarts' codes, and CodeKeyPairMissing,
// CodePasswordMissing, CodeImageNotOffered of this package).
type FieldError struct {
	Field   string
	Message string
	Code    string
	Params  map[string]any
	Rules   []modelarts.Rule
}

// Codes of the OS problems found here rather than by modelarts.
const (
	CodeKeyPairMissing  = "key_pair_missing"
	CodePasswordMissing = "password_missing"
	CodeImageNotOffered = "image_not_offered"
)

// FieldErrors are the problems found in the OS settings; nothing was sent.
type FieldErrors []FieldError

func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		parts[i] = e.Field + ": " + e.Message
	}
	return "batch: invalid OS settings: " + strings.Join(parts, "; ")
}

// ByField joins the messages of each field.
func (fe FieldErrors) ByField() map[string]string {
	out := map[string]string{}
	for _, e := range fe {
		if prev := out[e.Field]; prev != "" {
			out[e.Field] = prev + " " + e.Message
		} else {
			out[e.Field] = e.Message
		}
	}
	return out
}

// msgImageNotOffered is the one wording of an image the targets cannot take.
const msgImageNotOffered = "This image is not offered for the selected servers; choose one from the list."

// CheckOS is the one check of the OS settings of action, exactly as the API
// will check them (modelarts.ValidateOSParams), with each problem at the
// field it belongs to. With a login method chosen, a missing value belongs
// to that method's field. It does not check that the image is offered:
// that needs the prepared action (see Review and Execute).
func CheckOS(action modelarts.BatchType, in OSInput) FieldErrors {
	var out FieldErrors
	params := in.Params
	for _, fe := range modelarts.ValidateOSParams(action, &params) {
		out = append(out, FieldError{Field: fieldOf(fe.Field), Message: fe.Sentence(), Code: fe.Code, Params: fe.Params, Rules: fe.Rules})
	}
	for i, e := range out {
		if e.Field != FieldLogin {
			continue
		}
		switch {
		case in.Login == LoginKeyPair && params.KeyPairName == "":
			out[i] = FieldError{Field: FieldKeyPair, Message: "Enter the name of a key pair of the project.", Code: CodeKeyPairMissing}
		case in.Login == LoginPassword && params.AdminPass == "":
			out[i] = FieldError{Field: FieldPassword, Message: "Enter the admin password.", Code: CodePasswordMissing}
		}
	}
	return out
}

// fieldOf maps a field of the API request to the OS setting it belongs to.
func fieldOf(apiField string) string {
	switch apiField {
	case "extend_param.image_id":
		return FieldImage
	case "extend_param.admin_pass":
		return FieldPassword
	case "extend_param.key_pair_name":
		return FieldKeyPair
	case "extend_param.user_data":
		return FieldUserData
	}
	return FieldLogin
}

// checkImage says whether the image of in is one p offers, and its name.
func (p *Prepared) checkImage(in OSInput) (string, error) {
	if p.Action != modelarts.BatchChangeOS {
		return "", nil
	}
	if err := p.imagesProblem(); err != nil {
		return "", err
	}
	for _, img := range p.Images {
		if img.ImageID == in.Params.ImageID && img.ImageID != "" {
			if img.Name == "" {
				return img.ImageID, nil
			}
			return img.Name, nil
		}
	}
	return "", FieldErrors{{Field: FieldImage, Message: msgImageNotOffered, Code: CodeImageNotOffered}}
}
