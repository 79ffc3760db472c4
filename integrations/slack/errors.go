package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/crowdflow/crowdflow/integrations"
)

// noRetryAfterWait is how long a 429 without a usable Retry-After header
// waits. The original waited 60 s on every 429 because it never managed
// to read the header; here the header wins whenever it is there.
const noRetryAfterWait = 60 * time.Second

// Slack error codes (the `error` of an ok:false answer) this package acts on.
const (
	errNotInChannel    = "not_in_channel"
	errChannelNotFound = "channel_not_found"
	errThreadNotFound  = "thread_not_found"
	errUserNotFound    = "user_not_found"
	errMissingScope    = "missing_scope"
	errInvalidCursor   = "invalid_cursor"
	errRateLimited     = "ratelimited"
)

// authErrors are the codes that mean the token itself is refused: no retry
// can fix them, the workspace has to reconnect.
var authErrors = map[string]bool{
	"invalid_auth":            true,
	"not_authed":              true,
	"account_inactive":        true,
	"token_revoked":           true,
	"token_expired":           true,
	"no_permission":           true,
	"org_login_required":      true,
	"team_access_not_granted": true,
}

// slackCode returns the `error` code of an ok:false answer, "" for any
// other error.
func slackCode(err error) string {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

// channelSkipCode reports whether err says the channel (or thread) cannot
// be read any more, which skips it instead of failing the run.
func channelSkipCode(err error) (string, bool) {
	switch c := slackCode(err); c {
	case errNotInChannel, errChannelNotFound, errThreadNotFound:
		return c, true
	}
	return "", false
}

// apiError turns an error of a Slack call into the error the engine acts
// on: RateLimitedError for a 429, PermanentError for what retrying cannot
// fix, a plain (retryable) error otherwise. call names the method for the
// run row; the token never appears in what it returns.
func (s *Service) apiError(run *integrations.RunContext, call string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		wait := rl.RetryAfter
		if wait <= 0 {
			// Retry-After: 0 means "now"; a second keeps a tight loop off.
			wait = time.Second
		}
		return integrations.RateLimited(s.now().Add(wait), fmt.Sprintf("slack %s: HTTP 429, Retry-After %s", call, wait))
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		switch {
		case authErrors[se.Err]:
			return integrations.Permanent(fmt.Errorf("slack %s: %s: Slack refuses the bot token; reconnect the Slack integration", call, se.Err))
		case se.Err == errMissingScope:
			return integrations.Permanent(fmt.Errorf("slack %s: missing_scope (needed %q): reinstall the Slack app with that scope", call, se.Needed))
		case se.Err == errInvalidCursor:
			return integrations.Permanent(fmt.Errorf("slack %s: invalid_cursor: the stored page cursor is no longer accepted", call))
		case se.Err == errRateLimited:
			return integrations.RateLimited(s.now().Add(noRetryAfterWait), fmt.Sprintf("slack %s: ratelimited without HTTP 429", call))
		}
		return fmt.Errorf("slack %s: %s", call, se.Err)
	}
	var sc slackapi.StatusCodeError
	if errors.As(err, &sc) {
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return integrations.RateLimited(s.now().Add(noRetryAfterWait), fmt.Sprintf("slack %s: HTTP 429 without a usable Retry-After", call))
		case sc.Code >= 400 && sc.Code < 500 && sc.Code != http.StatusRequestTimeout:
			// 404 or 410: a wrong SLACK_API_URL or a retired method.
			return integrations.Permanent(fmt.Errorf("slack %s: HTTP %d (check %s)", call, sc.Code, EnvAPIURL))
		}
		return fmt.Errorf("slack %s: HTTP %d", call, sc.Code)
	}
	return &redactedError{msg: fmt.Sprintf("slack %s: %s", call, redact(err.Error(), run.Integration.Token)), err: err}
}

// redactedError keeps the cause for errors.Is/As but prints a message with
// the token taken out (slack-go's errors never hold it, as the token
// travels in the form body; this is the belt to those braces).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[token]")
}
