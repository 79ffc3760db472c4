package api_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/api"
)

const testWebhookSecret = "api-test-webhook-secret"

func sign(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// TestGitHubWebhookRefusals: the answers that store nothing (the stored
// and processed deliveries are in e2e/github_test.go, on Temporal).
func TestGitHubWebhookRefusals(t *testing.T) {
	withSecret := func(o *api.Options) { o.GitHubWebhookSecret = testWebhookSecret }
	const star = `{"action": "created", "starred_at": "2026-10-01T00:00:00Z", "repository": {"full_name": "nobody/nothing"}, "sender": {"login": "a", "type": "User"}}`
	post := func(h http.Handler, contentType, body string, headers map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, api.RouteGitHubWebhook, strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	signed := func(event, delivery, body string) map[string]string {
		return map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sign(testWebhookSecret, body)}
	}

	f := newFixture(t, withSecret)
	for _, tc := range []struct {
		name, contentType, body string
		headers                 map[string]string
		status                  int
		want                    string
	}{
		{"no signature", "application/json", star, map[string]string{"X-GitHub-Event": "star", "X-GitHub-Delivery": "d1"}, 401, "unauthorized"},
		{"wrong secret", "application/json", star, map[string]string{"X-GitHub-Event": "star", "X-GitHub-Delivery": "d1", "X-Hub-Signature-256": sign("other", star)}, 401, "unauthorized"},
		{"tampered body", "application/json", strings.Replace(star, `"a"`, `"b"`, 1), signed("star", "d1", star), 401, "unauthorized"},
		{"no delivery id", "application/json", star, signed("star", "", star), 400, "invalid"},
		{"ping", "application/json", `{"zen": "Keep it logically awesome."}`, signed("ping", "d2", `{"zen": "Keep it logically awesome."}`), 200, `"pong"`},
		{"push carries no activity", "application/json", `{}`, signed("push", "d3", `{}`), 202, `"ignored"`},
		{"no integration has the repository", "application/json", star, signed("star", "d4", star), 202, `"ignored"`},
		{"form-encoded, no integration", "application/x-www-form-urlencoded", "payload=" + url.QueryEscape(star),
			signed("star", "d5", "payload="+url.QueryEscape(star)), 202, `"ignored"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := post(f.handler, tc.contentType, tc.body, tc.headers)
			assert.Equal(t, tc.status, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), tc.want)
		})
	}
	assert.Equal(t, 0, f.count(`"incomingWebhooks"`), "nothing stored")

	// No secret configured: every delivery is refused.
	noSecret := newFixture(t)
	w := post(noSecret.handler, "application/json", star, signed("star", "d6", star))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Contains(t, w.Body.String(), "GITHUB_WEBHOOK_SECRET")
}
