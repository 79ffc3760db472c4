package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/crowdflow/crowdflow/integrations"
)

// PostgreSQL refuses a NUL character in text ("invalid byte sequence for
// encoding UTF8: 0x00") and in jsonb ("unsupported Unicode escape sequence:
// \u0000 cannot be converted to text"), and invalid UTF-8 in both. APIs do
// send them (a pasted binary, a broken client), and a page that cannot be
// stored fails on every attempt. So everything a run writes passes through
// these functions at the store boundary: NUL is dropped, invalid UTF-8
// becomes U+FFFD. They are applied to every platform's data alike, which
// is why they live here rather than in each service.

// cleanText drops NUL characters and replaces invalid UTF-8.
func cleanText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// nulEscape is how encoding/json (and every JSON encoder) writes NUL.
var nulEscape = []byte(`\u0000`)

// cleanJSON drops the \u0000 escapes (and raw NUL bytes) from a JSON text
// and replaces invalid UTF-8. An escaped backslash followed by "u0000"
// ("\\u0000", the six characters \u0000 as text) is kept: it is not a NUL.
func cleanJSON(b []byte) []byte {
	if !bytes.Contains(b, nulEscape) && bytes.IndexByte(b, 0) < 0 && utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0:
			continue
		case c == '\\' && i+1 < len(b):
			if bytes.HasPrefix(b[i:], nulEscape) {
				i += len(nulEscape) - 1
				continue
			}
			// Any other escape is copied whole, so the character after
			// an escaped backslash is never read as an escape.
			out = append(out, c, b[i+1])
			i++
		default:
			out = append(out, c)
		}
	}
	return bytes.ToValidUTF8(out, []byte("\uFFFD"))
}

// cleanRaw is cleanJSON for a json.RawMessage, keeping nil as nil.
func cleanRaw(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	return cleanJSON(b)
}

// failureJSON encodes a run's or a stream's error for its jsonb column.
// The message is cleaned first, so a NUL in an API's error text cannot
// keep FailStream from recording the failure.
func failureJSON(f Failure) []byte {
	f.ErrorPoint, f.Message, f.Stream = cleanText(f.ErrorPoint), cleanText(f.Message), cleanText(f.Stream)
	b, _ := json.Marshal(f)
	return b
}

// cleanMember returns the member with its text cleaned. Attributes are
// cleaned when they are encoded (platformAttributes).
func cleanMember(m integrations.Member) integrations.Member {
	m.Username, m.SourceID, m.DisplayName = cleanText(m.Username), cleanText(m.SourceID), cleanText(m.DisplayName)
	if len(m.Emails) > 0 {
		emails := make([]string, len(m.Emails))
		for i, e := range m.Emails {
			emails[i] = cleanText(e)
		}
		m.Emails = emails
	}
	return m
}

// cleanActivity returns the activity with its text and its member's
// cleaned. Attributes are cleaned when they are encoded.
func cleanActivity(a integrations.Activity) integrations.Activity {
	a.Type, a.SourceID, a.SourceParentID = cleanText(a.Type), cleanText(a.SourceID), cleanText(a.SourceParentID)
	a.Channel, a.Title, a.Body, a.URL = cleanText(a.Channel), cleanText(a.Title), cleanText(a.Body), cleanText(a.URL)
	a.Member = cleanMember(a.Member)
	return a
}

// cleanResult returns a copy of a page's records with their text cleaned;
// the caller's result is not changed.
func cleanResult(res *integrations.StreamResult) *integrations.StreamResult {
	out := *res
	out.Activities = make([]integrations.Activity, len(res.Activities))
	for i, a := range res.Activities {
		out.Activities[i] = cleanActivity(a)
	}
	out.Members = make([]integrations.Member, len(res.Members))
	for i, m := range res.Members {
		out.Members[i] = cleanMember(m)
	}
	return &out
}
