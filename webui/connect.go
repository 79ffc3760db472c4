package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/integrations"
)

// Form input names of the connect form besides the settings fields, which
// are "setting.<key>".
const (
	inputPlatform     = "platform"
	inputTenant       = "tenant"
	inputToken        = "token"
	inputIdentifier   = "identifier"
	inputSettingsJSON = "settingsJson"
	settingPrefix     = "setting."
	// errGeneral keys the errors that belong to no one field.
	errGeneral = "_"
)

// formField is a field of the connect form as the template shows it.
type formField struct {
	integrations.FormField
	Input string // the input's name
	ID    string // the input's id: setting-<key>, a plain CSS selector
	Value string // what the user typed, shown again after an error
	Error string
}

// connectForm is the connect form of one platform.
type connectForm struct {
	Platform string
	Tenant   string
	// Generated is false for a service without a form description: the
	// settings are a JSON text area.
	Generated     bool
	Fields        []formField
	Identifier    *formField
	SettingsJSON  string
	TokenLabel    string
	TokenHelp     string
	TokenOptional bool
	// Errors by field: a settings key, "settings", "token", "tenant",
	// "platform", or errGeneral.
	Errors map[string]string
}

// newConnectForm describes the form of a platform from its service.
func newConnectForm(svc integrations.Service, tenant string) *connectForm {
	f := &connectForm{Platform: svc.Platform(), Tenant: tenant, TokenLabel: "API token", Errors: map[string]string{}, SettingsJSON: "{}"}
	former, ok := svc.(integrations.SettingsFormer)
	if !ok {
		return f
	}
	desc := former.SettingsForm()
	f.Generated = true
	for _, fd := range desc.Fields {
		f.Fields = append(f.Fields, formField{FormField: fd, Input: settingPrefix + fd.Name, ID: "setting-" + fd.Name})
	}
	if desc.Identifier != nil {
		f.Identifier = &formField{FormField: *desc.Identifier, Input: inputIdentifier, ID: inputIdentifier}
	}
	if desc.TokenLabel != "" {
		f.TokenLabel = desc.TokenLabel
	}
	f.TokenHelp, f.TokenOptional = desc.TokenHelp, desc.TokenOptional
	return f
}

// read fills the form from a posted request and returns the settings
// object the fields make; a value that cannot be made (a number that is
// not one) is a field error.
func (f *connectForm) read(r *http.Request) json.RawMessage {
	if f.Identifier != nil {
		f.Identifier.Value = strings.TrimSpace(r.PostFormValue(inputIdentifier))
	}
	if !f.Generated {
		f.SettingsJSON = r.PostFormValue(inputSettingsJSON)
		if strings.TrimSpace(f.SettingsJSON) == "" {
			return json.RawMessage(`{}`)
		}
		return json.RawMessage(f.SettingsJSON)
	}
	settings := map[string]any{}
	for i := range f.Fields {
		fd := &f.Fields[i]
		fd.Value = r.PostFormValue(fd.Input)
		v := strings.TrimSpace(fd.Value)
		switch fd.Kind {
		case integrations.FieldCheckbox:
			settings[fd.Name] = v != ""
		case integrations.FieldList:
			items := splitList(v)
			switch {
			case len(items) == 0:
			case fd.ItemKey != "":
				objects := make([]map[string]string, len(items))
				for i, it := range items {
					objects[i] = map[string]string{fd.ItemKey: it}
				}
				settings[fd.Name] = objects
			default:
				settings[fd.Name] = items
			}
		case integrations.FieldNumber:
			if v == "" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				f.Errors[fd.Name] = "must be a whole number"
				continue
			}
			settings[fd.Name] = n
		default:
			if v != "" {
				settings[fd.Name] = v
			}
		}
	}
	b, _ := json.Marshal(settings) // strings, numbers, booleans and lists of strings always encode
	return b
}

// splitList splits a list typed one per line or comma-separated.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// setError puts an error of the controller next to the field it names.
// The controller names settings fields as the API reports them:
// "settings.users[1]" is the users field (the message keeps the index).
func (f *connectForm) setError(field, message string) {
	switch {
	case strings.HasPrefix(field, "settings."):
		path := strings.TrimPrefix(field, "settings.")
		name := path
		if i := strings.IndexAny(name, "[."); i >= 0 {
			name = name[:i]
		}
		if f.has(name) {
			if path != name {
				message = path + ": " + message
			}
			f.Errors[name] = message
			return
		}
		// A key the form has no field for (the JSON text area, or a
		// service that checks more than its form shows).
		f.Errors["settings"] = path + ": " + message
	case field == "settings" || field == inputToken || field == inputIdentifier || field == inputPlatform:
		f.Errors[field] = message
	case field == "tenant":
		f.Errors[inputTenant] = message
	default:
		f.Errors[errGeneral] = message
	}
}

func (f *connectForm) has(name string) bool {
	for _, fd := range f.Fields {
		if fd.Name == name {
			return true
		}
	}
	return false
}

// Field returns the error of one field, for the template.
func (f *connectForm) Error(name string) string { return f.Errors[name] }

// connectPage shows the platform choice, or the form of a platform.
func (u *UI) connectPage(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r)
	platform := r.URL.Query().Get(inputPlatform)
	data := map[string]any{"Platforms": u.ctl.ConnectablePlatforms(), "Tenant": tenant}
	if svc, ok := u.ctl.Registry.Get(platform); ok {
		data["Form"] = newConnectForm(svc, tenant)
	}
	u.render(w, r, http.StatusOK, "connect", page{Title: "Connect an integration", Tenant: tenant}, data)
}

// connect validates the form as the API validates its body, stores the
// integration and starts its onboarding, then shows the run. A refused
// form comes back with the errors next to their fields and the values
// typed, except the token, which is never sent back.
func (u *UI) connect(w http.ResponseWriter, r *http.Request) {
	p := current(r).principal
	tenant := p.TenantID
	if p.Operator {
		tenant = strings.TrimSpace(r.PostFormValue(inputTenant))
	}
	platform := r.PostFormValue(inputPlatform)
	svc, ok := u.ctl.Registry.Get(platform)
	if !ok {
		u.render(w, r, http.StatusBadRequest, "connect", page{Title: "Connect an integration", Tenant: tenant},
			map[string]any{"Platforms": u.ctl.ConnectablePlatforms(), "Tenant": tenant, "Error": "Choose a platform."})
		return
	}
	form := newConnectForm(svc, tenant)
	in := control.ConnectInput{
		TenantID: tenant, Platform: platform, Settings: form.read(r),
		Token: strings.TrimSpace(r.PostFormValue(inputToken)),
	}
	if form.Identifier != nil {
		in.Identifier = form.Identifier.Value
	}
	refuse := func(status int) {
		u.render(w, r, status, "connect", page{Title: "Connect an integration", Tenant: tenant},
			map[string]any{"Platforms": u.ctl.ConnectablePlatforms(), "Tenant": tenant, "Form": form})
	}
	if len(form.Errors) > 0 {
		refuse(http.StatusBadRequest)
		return
	}
	if !form.Generated && !json.Valid(bytes.TrimSpace(in.Settings)) {
		form.setError("settings", "is not valid JSON")
		refuse(http.StatusBadRequest)
		return
	}
	if in.Token == "" && !form.TokenOptional && form.Generated {
		form.setError(inputToken, "is required")
		refuse(http.StatusBadRequest)
		return
	}
	// Validation first, as the API does: bad input writes nothing,
	// whatever the state of Temporal.
	_, err := u.ctl.ValidateConnect(in)
	if err == nil {
		ctx, cancel := timeout(r)
		defer cancel()
		var st control.Started
		if st, err = u.ctl.Connect(ctx, in); err == nil {
			http.Redirect(w, r, u.base+"/runs/"+st.RunID, http.StatusSeeOther)
			return
		}
	}
	var bad *control.BadInputError
	if errors.As(err, &bad) {
		form.setError(bad.Field, bad.Message)
		refuse(http.StatusBadRequest)
		return
	}
	status, msg := u.actionError(r, err)
	form.Errors[errGeneral] = msg
	refuse(status)
}
