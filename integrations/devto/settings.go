package devto

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/crowdflow/crowdflow/integrations"
)

// Setting names, as stored in integrations.settings.
const (
	settingUsers         = "users"
	settingOrganizations = "organizations"
	settingArticles      = "articles"
)

// Settings are the integration's settings.
type Settings struct {
	Users         []string `json:"users"`
	Organizations []string `json:"organizations"`
	// Articles is the change cursor Postprocess keeps: the last
	// last_comment_at seen of every article.
	Articles []ArticleState `json:"articles,omitempty"`
}

// ArticleState is the stored state of one article. A nil LastCommentAt
// makes the next run check the article again.
type ArticleState struct {
	ID            int64   `json:"id"`
	LastCommentAt *string `json:"lastCommentAt"`
}

// slugRe is what Dev.to usernames and organization slugs are made of.
var slugRe = regexp.MustCompile(`^[a-z0-9_-]{1,100}$`)

// ValidateSettings checks the settings a user gives when connecting and
// returns them normalised: names trimmed, lowercased, with a leading "@"
// or a https://dev.to/ prefix dropped, and each listed once. It does not
// call the API. Unknown keys are refused, so that a typo ("organisations")
// is not silently ignored.
func (s *Service) ValidateSettings(raw json.RawMessage) (json.RawMessage, error) {
	fields, err := integrations.SettingsFields(raw, []string{settingUsers, settingOrganizations, settingArticles})
	if err != nil {
		return nil, err
	}
	var out Settings
	if out.Users, err = names(settingUsers, fields[settingUsers]); err != nil {
		return nil, err
	}
	if out.Organizations, err = names(settingOrganizations, fields[settingOrganizations]); err != nil {
		return nil, err
	}
	if len(out.Users) == 0 && len(out.Organizations) == 0 {
		return nil, &integrations.FieldError{Field: settingUsers, Message: "give at least one user or organization"}
	}
	// articles is the state Postprocess writes; kept when it is sound,
	// so that saving the settings again does not re-check every article.
	if a := fields[settingArticles]; len(a) > 0 && string(a) != "null" {
		if err := json.Unmarshal(a, &out.Articles); err != nil {
			return nil, &integrations.FieldError{Field: settingArticles, Message: "must be a list of {id, lastCommentAt}"}
		}
		for i, st := range out.Articles {
			if st.ID <= 0 {
				return nil, &integrations.FieldError{Field: fmt.Sprintf("%s[%d].id", settingArticles, i), Message: "must be a positive article id"}
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// names validates and normalises a list of user or organization names.
func names(field string, raw json.RawMessage) ([]string, error) {
	out := []string{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, &integrations.FieldError{Field: field, Message: "must be a list of names"}
	}
	seen := map[string]bool{}
	for i, it := range items {
		var name string
		if err := json.Unmarshal(it, &name); err != nil {
			return nil, &integrations.FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Message: "must be a string"}
		}
		n := normaliseName(name)
		if n == "" {
			return nil, &integrations.FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Message: "must not be empty"}
		}
		if !slugRe.MatchString(n) {
			return nil, &integrations.FieldError{Field: fmt.Sprintf("%s[%d]", field, i),
				Message: fmt.Sprintf("%q is not a Dev.to name (letters, digits, _ and -)", name)}
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

func normaliseName(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"https://dev.to/", "http://dev.to/", "dev.to/"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			s = s[len(p):]
			break
		}
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "@"), "/")
	return strings.ToLower(strings.TrimSpace(s))
}
