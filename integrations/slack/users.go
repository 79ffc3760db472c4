package slack

import (
	"context"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/crowdflow/crowdflow/integrations"
)

// userInfo is what the service keeps of a Slack user.
type userInfo struct {
	ID          string
	Name        string
	RealName    string
	DisplayName string
	Email       string
	Title       string
	TZLabel     string
	Image72     string
	IsBot       bool
	BotID       string
	Deleted     bool
}

func userFrom(u *slackapi.User) *userInfo {
	realName := u.Profile.RealName
	if realName == "" {
		realName = u.RealName
	}
	return &userInfo{
		ID: u.ID, Name: u.Name, RealName: realName, DisplayName: u.Profile.DisplayName,
		Email: u.Profile.Email, Title: u.Profile.Title, TZLabel: u.TZLabel, Image72: u.Profile.Image72,
		IsBot: u.IsBot, BotID: u.Profile.BotID, Deleted: u.Deleted,
	}
}

// skipReason says why no member is made of u: "unknown", "bot" or
// "slackbot"; "" for a person. A deactivated person (deleted:true: they
// left the workspace) is still a person: their messages, replies and
// joins are the community's history, as crowd.dev kept them.
func (u *userInfo) skipReason() string {
	switch {
	case u == nil:
		return "unknown"
	case u.ID == slackbotID:
		return "slackbot"
	case u.IsBot || u.BotID != "":
		return "bot"
	}
	return ""
}

// attrDeactivated marks a member whose Slack account is deactivated.
const attrDeactivated = "isDeactivated"

// member builds the crowd member of a person.
//
// Username is the Slack `name` (the handle), as crowd.dev stored it
// (§5.5: username.slack = name). It is what memberIdentities is unique on,
// so it must be unique in the workspace and never empty: `name` is both,
// while display names are optional and may be shared by several people.
// DisplayName is the real name, falling back to the display name and then
// to the handle.
func (u *userInfo) member() integrations.Member {
	display := u.RealName
	if display == "" {
		display = u.DisplayName
	}
	if display == "" {
		display = u.Name
	}
	m := integrations.Member{
		Username:    u.Name,
		SourceID:    u.ID,
		DisplayName: display,
		Attributes:  map[string]any{"sourceId": u.ID},
	}
	if u.Email != "" {
		m.Emails = []string{u.Email}
	}
	if u.Image72 != "" {
		m.Attributes["avatarUrl"] = u.Image72
	}
	if u.TZLabel != "" {
		m.Attributes["timezone"] = u.TZLabel
	}
	if u.Title != "" {
		m.Attributes["jobTitle"] = u.Title
	}
	if u.Deleted {
		m.Attributes[attrDeactivated] = true
	}
	return m
}

// userCache keeps users per integration for a while, misses included, like
// the original's 24 h Redis cache: a page of messages asks users.info only
// for authors it has not seen. It is per worker process; a cold cache
// costs calls, never correctness.
type userCache struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[userKey]cachedUser
}

type userKey struct{ integration, user string }

type cachedUser struct {
	u  *userInfo // nil: users.info said user_not_found
	at time.Time
}

func newUserCache(ttl time.Duration) *userCache {
	return &userCache{ttl: ttl, max: 100_000, m: map[userKey]cachedUser{}}
}

func (c *userCache) get(integration, id string, now time.Time) (*userInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[userKey{integration, id}]
	if !ok || now.Sub(e.at) > c.ttl {
		return nil, false
	}
	return e.u, true
}

func (c *userCache) put(integration, id string, u *userInfo, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		// Crude but bounded: start over rather than grow without end.
		c.m = map[userKey]cachedUser{}
	}
	c.m[userKey{integration, id}] = cachedUser{u: u, at: now}
}

// resolveUsers returns the users of ids (nil for unknown ones), asking
// users.info once for each id the cache does not hold.
func (s *Service) resolveUsers(ctx context.Context, run *integrations.RunContext, api *slackapi.Client, ids []string) (map[string]*userInfo, error) {
	out := make(map[string]*userInfo, len(ids))
	integ := run.Integration.ID
	for _, id := range ids {
		if _, done := out[id]; done || id == "" {
			continue
		}
		if u, ok := s.users.get(integ, id, s.now()); ok {
			out[id] = u
			continue
		}
		su, err := api.GetUserInfoContext(ctx, id)
		if err != nil {
			if slackCode(err) == errUserNotFound {
				s.users.put(integ, id, nil, s.now())
				out[id] = nil
				continue
			}
			return nil, s.apiError(run, "users.info", err)
		}
		u := userFrom(su)
		s.users.put(integ, id, u, s.now())
		out[id] = u
	}
	return out, nil
}
