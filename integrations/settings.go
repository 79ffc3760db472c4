package integrations

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strings"
)

// SettingsFields decodes a settings document into its top-level fields for
// a service's ValidateSettings. It refuses anything but one JSON object,
// and any key that is neither in known (the keys a user may set, named in
// the error) nor in internal (keys the service writes back itself, such as
// check-run checkpoints), so that a typo ("organisations") is not silently
// ignored. Unknown keys are checked in sorted order, so the same document
// always names the same key.
func SettingsFields(raw json.RawMessage, known []string, internal ...string) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return nil, &FieldError{Field: "settings", Message: "must be a JSON object"}
	}
	if dec.More() {
		return nil, &FieldError{Field: "settings", Message: "must be a single JSON object"}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) && !slices.Contains(internal, k) {
			return nil, &FieldError{Field: k, Message: "unknown setting (known: " + strings.Join(known, ", ") + ")"}
		}
	}
	return fields, nil
}
