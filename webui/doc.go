// Package webui is the web UI served under /ui by `starter serve` and
// `worker --dev`: a tenant's integrations with their latest run and next
// scheduled check, a connect form per platform, a run's live progress, and
// an operators' page of the runs that need attention across tenants.
//
// It is server-rendered html/template with its assets embedded; one small
// script (static/app.js) makes the run page and the countdowns live, and
// everything else works without it. It calls the same control.Controller
// and store the HTTP API calls, so the UI and the API behave alike: the
// connect form is checked by the service's ValidateSettings, and its errors
// are shown next to the field the API would name.
//
// The connect form of a platform is generated from the service's
// integrations.SettingsFormer; a service without one gets a JSON text area.
//
// Sign-in is with the API's tokens, resolved by an Authenticator
// (OperatorToken for API_TOKEN). The token stays in a server-side session;
// the browser holds a random session id in an HttpOnly, SameSite=Strict
// cookie. Every form carries a per-session CSRF token, and POSTs from
// another origin are refused. Sessions live in the process's memory: a
// restart signs everyone out.
package webui
