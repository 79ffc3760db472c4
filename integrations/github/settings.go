package github

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
)

// Setting names, as stored in integrations.settings (crowd.dev's shape,
// plus the check cursor).
const (
	settingRepos       = "repos"
	settingUnavailable = "unavailableRepos"
	settingUpdateAttrs = "updateMemberAttributes"
	settingCheckpoints = "checkpoints"
)

// Settings are the integration's settings.
type Settings struct {
	Repos            []Repo `json:"repos"`
	UnavailableRepos []Repo `json:"unavailableRepos"`
	// UpdateMemberAttributes is kept as crowd.dev stored it.
	UpdateMemberAttributes *bool `json:"updateMemberAttributes,omitempty"`
	// Checkpoints maps "owner/name" to the start of the last run that read
	// every stream of the repository: a check walks back to it and stops.
	Checkpoints map[string]time.Time `json:"checkpoints,omitempty"`
}

// Repo is one repository of the settings.
type Repo struct {
	URL       string `json:"url"`
	Owner     string `json:"owner"`
	Name      string `json:"name"`
	CreatedAt string `json:"createdAt,omitempty"`
}

// FullName is "owner/name".
func (r Repo) FullName() string { return r.Owner + "/" + r.Name }

var (
	// GitHub logins: alphanumerics and single hyphens, at most 39.
	ownerRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	// Repository names: letters, digits, '.', '-', '_', at most 100.
	nameRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

const siteURL = "https://github.com"

// ValidateSettings checks the settings given when connecting and returns
// them normalised: each repository has owner, name and url (filled in as
// https://github.com/<owner>/<name> when missing, or read from a url
// given alone), listed once. An empty repos list is valid: a GitHub App
// installation lists its repositories itself. Unknown keys are refused.
func (s *Service) ValidateSettings(raw json.RawMessage) (json.RawMessage, error) {
	fields, err := integrations.SettingsFields(raw, []string{settingRepos, settingUnavailable, settingUpdateAttrs}, settingCheckpoints)
	if err != nil {
		return nil, err
	}
	var out Settings
	for _, key := range []string{settingRepos, settingUnavailable} {
		v, ok := fields[key]
		if !ok || string(v) == "null" {
			continue
		}
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return nil, &integrations.FieldError{Field: key, Message: "must be a list of repositories: {\"owner\", \"name\"}, \"owner/name\" or a github.com URL"}
		}
		seen := map[string]bool{}
		for i, item := range items {
			field := fmt.Sprintf("%s[%d]", key, i)
			r, err := parseRepo(item)
			if err != nil {
				return nil, &integrations.FieldError{Field: field, Message: err.Error()}
			}
			k := strings.ToLower(r.FullName())
			if seen[k] {
				continue
			}
			seen[k] = true
			if key == settingRepos {
				out.Repos = append(out.Repos, r)
			} else {
				out.UnavailableRepos = append(out.UnavailableRepos, r)
			}
		}
	}
	if v, ok := fields[settingUpdateAttrs]; ok {
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, &integrations.FieldError{Field: settingUpdateAttrs, Message: "must be true or false"}
		}
		out.UpdateMemberAttributes = &b
	}
	if v, ok := fields[settingCheckpoints]; ok {
		if err := json.Unmarshal(v, &out.Checkpoints); err != nil {
			return nil, &integrations.FieldError{Field: settingCheckpoints, Message: `must map "owner/name" to a time`}
		}
	}
	if out.Repos == nil {
		out.Repos = []Repo{}
	}
	if out.UnavailableRepos == nil {
		out.UnavailableRepos = []Repo{}
	}
	return json.Marshal(out)
}

// parseRepo reads {owner, name[, url, createdAt]}, {url}, or a string:
// "owner/name" or the repository's URL (what the web UI's list field
// sends).
func parseRepo(raw json.RawMessage) (Repo, error) {
	var str string
	if json.Unmarshal(raw, &str) == nil {
		str = strings.TrimSpace(str)
		if !strings.Contains(str, "://") {
			owner, name, _ := strings.Cut(str, "/")
			b, _ := json.Marshal(map[string]string{"owner": owner, "name": name})
			raw = b
		} else {
			b, _ := json.Marshal(map[string]string{"url": str})
			raw = b
		}
	}
	var in struct {
		URL       *string `json:"url"`
		Owner     *string `json:"owner"`
		Name      *string `json:"name"`
		CreatedAt *string `json:"createdAt"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Repo{}, fmt.Errorf("must be an object with owner and name (and optionally url, createdAt): %v", err)
	}
	var r Repo
	if in.Owner != nil {
		r.Owner = strings.TrimSpace(*in.Owner)
	}
	if in.Name != nil {
		r.Name = strings.TrimSpace(*in.Name)
	}
	if in.URL != nil && strings.TrimSpace(*in.URL) != "" {
		u := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(*in.URL), "/"), ".git")
		rest, ok := strings.CutPrefix(u, siteURL+"/")
		if !ok {
			rest, ok = strings.CutPrefix(u, "http://github.com/")
		}
		owner, name, two := strings.Cut(rest, "/")
		if !ok || !two || strings.Contains(name, "/") {
			return Repo{}, fmt.Errorf("url %q is not https://github.com/<owner>/<name>", *in.URL)
		}
		if r.Owner == "" {
			r.Owner = owner
		}
		if r.Name == "" {
			r.Name = name
		}
		if !strings.EqualFold(r.Owner, owner) || !strings.EqualFold(r.Name, name) {
			return Repo{}, fmt.Errorf("url %q does not match owner %q and name %q", *in.URL, r.Owner, r.Name)
		}
	}
	if !ownerRe.MatchString(r.Owner) {
		return Repo{}, fmt.Errorf("owner %q is not a GitHub user or organization name", r.Owner)
	}
	if !nameRe.MatchString(r.Name) || r.Name == "." || r.Name == ".." {
		return Repo{}, fmt.Errorf("name %q is not a repository name", r.Name)
	}
	r.URL = siteURL + "/" + r.Owner + "/" + r.Name
	if in.CreatedAt != nil {
		r.CreatedAt = *in.CreatedAt
	}
	return r, nil
}

func decodeSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if len(raw) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, integrations.Permanent(fmt.Errorf("github settings: %w", err))
	}
	return s, nil
}
