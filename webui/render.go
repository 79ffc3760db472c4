package webui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// page is what the layout needs besides a page's own data.
type page struct {
	Title string
	// Tenant is the tenant the page is about, for the navigation links.
	Tenant string
}

// view is the data of every template: the layout's and the page's.
type view struct {
	page
	Base      string
	Principal Principal
	SignedIn  bool
	CSRF      string
	Now       time.Time
	Data      map[string]any
}

// parsePages parses each page template with the layout. A page file is
// templates/<name>.html defining "content"; the live part of the run page
// is a template of its own so that the fragment and the page render it
// alike.
func parsePages(base string) (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when":      when,
		"ago":       ago,
		"secsUntil": secsUntil,
		"countdown": countdown,
		"rfc3339":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"failure":   failureText,
		"base":      func() string { return base },
		// short is the first block of a UUID, enough to tell rows apart.
		"short": func(id string) string {
			if i := strings.IndexByte(id, '-'); i > 0 {
				return id[:i]
			}
			return id
		},
		"sleeping": func(until *time.Time, reason string, now time.Time) sleepView {
			return sleepView{Until: until, Reason: reason, Now: now}
		},
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range names {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, f)
		if err != nil {
			return nil, fmt.Errorf("webui: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a page in the layout with the given status. Rendering into
// a buffer first means a template error is a clean 500, not half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, p page, data map[string]any) {
	u.write(w, r, status, name, "layout.html", p, data)
}

// renderFragment writes one named template of a page, without the layout.
func (u *UI) renderFragment(w http.ResponseWriter, r *http.Request, name, fragment string, data map[string]any) {
	u.write(w, r, http.StatusOK, name, fragment, page{}, data)
}

func (u *UI) write(w http.ResponseWriter, r *http.Request, status int, name, tmpl string, p page, data map[string]any) {
	t, ok := u.pages[name]
	if !ok {
		u.logger.Error("webui: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s := current(r)
	v := view{page: p, Base: u.base, Principal: s.principal, SignedIn: s.session != nil, Now: time.Now(), Data: data}
	if s.session != nil {
		v.CSRF = s.session.csrf
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, v); err != nil {
		u.logger.Error("webui: render", "template", name, "err", err)
		http.Error(w, "internal error (logged on the server)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// sleepView is what the "sleep" template shows: a wait, its reason and a
// countdown that the page's script keeps running.
type sleepView struct {
	Until  *time.Time
	Reason string
	Now    time.Time
}

// when formats a time for a person, in UTC; "—" for none.
func when(t any) string {
	tt, ok := asTime(t)
	if !ok {
		return "—"
	}
	return tt.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago is how long ago (or, in the future, in how long) t is from now,
// roughly: "12 s ago", "in 3 min".
func ago(t any, now time.Time) string {
	tt, ok := asTime(t)
	if !ok {
		return ""
	}
	d := now.Sub(tt)
	if d < 0 {
		return "in " + roughly(-d)
	}
	return roughly(d) + " ago"
}

// roughly is a duration in its largest unit: "12 s", "3 min", "5 h", "2 days".
func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
}

// secsUntil is the whole seconds from now to t, at least 0.
func secsUntil(t any, now time.Time) int {
	tt, ok := asTime(t)
	if !ok || !tt.After(now) {
		return 0
	}
	return int((tt.Sub(now) + time.Second - 1) / time.Second)
}

// countdown renders seconds as the live script does: "1 h 02 min 05 s",
// "2 min 05 s", "5 s".
func countdown(secs int) string {
	h, m, s := secs/3600, secs/60%60, secs%60
	switch {
	case h > 0:
		return fmt.Sprintf("%d h %02d min %02d s", h, m, s)
	case m > 0:
		return fmt.Sprintf("%d min %02d s", m, s)
	default:
		return fmt.Sprintf("%d s", s)
	}
}

func asTime(t any) (time.Time, bool) {
	switch v := t.(type) {
	case time.Time:
		return v, !v.IsZero()
	case *time.Time:
		if v == nil {
			return time.Time{}, false
		}
		return *v, !v.IsZero()
	}
	return time.Time{}, false
}

// failureText is the message of a stored failure ({"errorPoint",
// "message", ...}), or the raw JSON when it has another shape.
func failureText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var f struct {
		ErrorPoint string `json:"errorPoint"`
		Message    string `json:"message"`
	}
	if json.Unmarshal(raw, &f) == nil && f.Message != "" {
		if f.ErrorPoint != "" {
			return f.ErrorPoint + ": " + f.Message
		}
		return f.Message
	}
	return string(raw)
}
