package twitter

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/crowdflow/crowdflow/integrations"
)

// Settings field names.
const (
	fieldHashtags = "hashtags"
)

// Settings are a twitter integration's settings.
type Settings struct {
	// Hashtags to track, without '#'.
	Hashtags []string `json:"hashtags"`
}

// maxHashtags bounds the hashtag streams of a run (each is one search).
const maxHashtags = 25

// hashtagPattern is what X recognises as a hashtag after the '#': letters,
// digits and underscores (not only digits), up to 100 characters.
var hashtagPattern = regexp.MustCompile(`^[\p{L}\p{M}\p{N}_]{1,100}$`)
var onlyDigits = regexp.MustCompile(`^[0-9]+$`)

// ValidateSettings normalises the hashtags: given as a list or a
// comma-separated string, each with or without '#', trimmed, duplicates
// (in any case: X's hashtags ignore case) dropped, order kept. Other keys
// are kept as given.
func (s *Service) ValidateSettings(raw json.RawMessage) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, &integrations.FieldError{Field: "", Message: "must be a JSON object"}
	}
	tags, err := parseHashtags(obj[fieldHashtags])
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(tags)
	obj[fieldHashtags] = b
	return json.Marshal(obj)
}

func parseHashtags(raw json.RawMessage) ([]string, error) {
	var items []string
	if len(raw) > 0 && string(raw) != "null" {
		var one string
		var list []string
		switch {
		case json.Unmarshal(raw, &one) == nil:
			items = []string{one}
		case json.Unmarshal(raw, &list) == nil:
			items = list
		default:
			return nil, &integrations.FieldError{Field: fieldHashtags, Message: "must be a list of hashtags or a comma-separated string"}
		}
	}
	out := []string{}
	seen := map[string]bool{}
	for _, item := range items {
		for _, t := range strings.Split(item, ",") {
			t = strings.TrimSpace(t)
			t = strings.TrimPrefix(t, "#")
			if t == "" {
				continue
			}
			if !hashtagPattern.MatchString(t) || onlyDigits.MatchString(t) {
				return nil, &integrations.FieldError{Field: fieldHashtags,
					Message: fmt.Sprintf("%q is not a hashtag: letters, digits and underscores, not only digits, up to 100", t)}
			}
			if k := strings.ToLower(t); !seen[k] {
				seen[k] = true
				out = append(out, t)
			}
		}
	}
	if len(out) > maxHashtags {
		return nil, &integrations.FieldError{Field: fieldHashtags, Message: fmt.Sprintf("at most %d hashtags, not %d", maxHashtags, len(out))}
	}
	return out, nil
}

// readSettings reads stored settings; they were validated at connect, but
// an older row may hold the original's comma-separated string.
func readSettings(raw json.RawMessage) (Settings, error) {
	var obj map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &obj); err != nil {
			return Settings{}, integrations.Permanent(fmt.Errorf("settings: %w", err))
		}
	}
	tags, err := parseHashtags(obj[fieldHashtags])
	if err != nil {
		return Settings{}, integrations.Permanent(fmt.Errorf("settings: %w", err))
	}
	return Settings{Hashtags: tags}, nil
}
