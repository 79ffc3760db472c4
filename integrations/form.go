package integrations

// The connect form of the web UI is generated from what a service says
// about its settings, so that a new platform gets its form by implementing
// SettingsFormer next to its ValidateSettings. A service without it gets a
// JSON text area: the form describes, ValidateSettings decides.

// Kinds of form fields: how the text a user types becomes a JSON value.
const (
	// FieldText is a JSON string; left empty, the key is left out.
	FieldText = "text"
	// FieldList is a JSON array of strings, typed one per line or
	// separated by commas; left empty, the key is left out.
	FieldList = "list"
	// FieldNumber is a JSON integer; left empty, the key is left out.
	FieldNumber = "number"
	// FieldCheckbox is a JSON boolean, false when unticked.
	FieldCheckbox = "checkbox"
)

// SettingsForm describes the connect form of a platform.
type SettingsForm struct {
	// Fields are the settings keys, in the order the form shows them.
	Fields []FormField
	// Identifier, when set, asks for the platform's id of what is
	// connected (a GitHub App installation id), stored apart from the
	// settings; its Name is not used.
	Identifier *FormField
	// TokenLabel names the token field ("Bot token", "API key"); empty
	// means "API token". The token is never shown back.
	TokenLabel string
	// TokenHelp says where the token comes from.
	TokenHelp string
	// TokenOptional says the platform works without a token (public APIs).
	TokenOptional bool
}

// FormField is one input of a settings form.
type FormField struct {
	// Name is the settings key ("users"); the errors ValidateSettings
	// returns name it (FieldError.Field "users" or "users[2]").
	Name  string
	Label string
	// Kind is FieldText, FieldList, FieldNumber or FieldCheckbox.
	Kind string
	// Help is a sentence shown under the field.
	Help        string
	Placeholder string
	// Required marks the field in the form; ValidateSettings still has the
	// last word (Dev.to needs a user or an organization, either field).
	Required bool
	// ItemKey, for a FieldList, makes each item an object {ItemKey: item}
	// instead of a string (GitHub's repos are {"url": "..."} objects).
	ItemKey string
}

// SettingsFormer is implemented by services whose connect form can be
// generated.
type SettingsFormer interface {
	SettingsForm() SettingsForm
}
