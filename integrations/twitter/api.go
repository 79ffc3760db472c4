package twitter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
)

// Fields are opt-in on X: these are every field the records need. Without
// them a user is {id,name,username} and a post {id,text}.
const (
	userFields  = "created_at,description,location,profile_image_url,public_metrics,url,verified"
	tweetFields = "created_at,entities,attachments,referenced_tweets,author_id,conversation_id"
	expansions  = "author_id,attachments.media_keys"
	mediaFields = "url,preview_image_url,type,width,height"

	// The endpoints' largest pages.
	maxFollowers = 1000
	maxMentions  = 100
	maxSearch    = 100
	// MaxUsernames is how many usernames GET /2/users/by takes at once.
	MaxUsernames = 100
)

type apiUser struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Username        string `json:"username"`
	Description     string `json:"description"`
	Location        string `json:"location"`
	URL             string `json:"url"`
	ProfileImageURL string `json:"profile_image_url"`
	PublicMetrics   *struct {
		FollowersCount int `json:"followers_count"`
	} `json:"public_metrics"`
}

type apiMedia struct {
	MediaKey        string `json:"media_key"`
	Type            string `json:"type"`
	URL             string `json:"url"`
	PreviewImageURL string `json:"preview_image_url"`
	Width           int    `json:"width"`
	Height          int    `json:"height"`
}

type apiTweet struct {
	ID          string         `json:"id"`
	Text        string         `json:"text"`
	AuthorID    string         `json:"author_id"`
	CreatedAt   string         `json:"created_at"`
	Entities    map[string]any `json:"entities"`
	Attachments *struct {
		MediaKeys []string `json:"media_keys"`
	} `json:"attachments"`
}

// page is one page of users or posts, with its authors and media.
type page[T any] struct {
	Items    []T
	Includes includes
	Next     string
	Rate     rateInfo
	// Problems are partial errors beside the data (an author that is
	// suspended, a username that is unknown).
	Problems []Problem
}

func decodePage[T any](env *envelope, rate rateInfo) (*page[T], error) {
	p := &page[T]{Includes: env.Includes, Next: env.Meta.NextToken, Rate: rate, Problems: env.Errors}
	if len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, &p.Items); err != nil {
			return nil, fmt.Errorf("undecodable data: %w", err)
		}
	}
	return p, nil
}

// Followers returns a page of the profile's followers, the most recent
// first.
func (c *Client) Followers(ctx context.Context, rc *integrations.RunContext, profileID, token string) (*page[apiUser], error) {
	q := url.Values{"max_results": {strconv.Itoa(maxFollowers)}, "user.fields": {userFields}}
	if token != "" {
		q.Set("pagination_token", token)
	}
	env, rate, err := c.call(ctx, rc, "/2/users/"+profileID+"/followers", q)
	if err != nil {
		return nil, err
	}
	return decodePage[apiUser](env, rate)
}

func postQuery(max int) url.Values {
	return url.Values{"max_results": {strconv.Itoa(max)}, "tweet.fields": {tweetFields}, "expansions": {expansions},
		"user.fields": {userFields}, "media.fields": {mediaFields}}
}

// Mentions returns a page of the posts that mention the profile, newest
// first.
func (c *Client) Mentions(ctx context.Context, rc *integrations.RunContext, profileID, token string) (*page[apiTweet], error) {
	q := postQuery(maxMentions)
	if token != "" {
		q.Set("pagination_token", token)
	}
	env, rate, err := c.call(ctx, rc, "/2/users/"+profileID+"/mentions", q)
	if err != nil {
		return nil, err
	}
	return decodePage[apiTweet](env, rate)
}

// SearchHashtag returns a page of the posts of the last 7 days that carry
// the hashtag, newest first. Recent search covers 7 days only.
func (c *Client) SearchHashtag(ctx context.Context, rc *integrations.RunContext, tag, token string) (*page[apiTweet], error) {
	q := postQuery(maxSearch)
	q.Set("query", "#"+tag)
	if token != "" {
		q.Set("next_token", token)
	}
	env, rate, err := c.call(ctx, rc, "/2/tweets/search/recent", q)
	if err != nil {
		return nil, err
	}
	return decodePage[apiTweet](env, rate)
}

// UserCounts is what GET /2/users/by said of a chunk of usernames.
type UserCounts struct {
	// Followers maps a username, as asked, to its followers_count.
	Followers map[string]int
	// Skipped are the usernames answered with a problem (unknown,
	// suspended, protected).
	Skipped []string
	// Sleep is how long to pause before the next call (the window is
	// used up), 0 when none.
	Sleep time.Duration
}

// FollowerCounts looks up at most MaxUsernames usernames. Users the API
// cannot show come back as partial errors and are skipped, not fatal.
func (c *Client) FollowerCounts(ctx context.Context, rc *integrations.RunContext, usernames []string) (*UserCounts, error) {
	if len(usernames) == 0 || len(usernames) > MaxUsernames {
		return nil, integrations.Permanent(fmt.Errorf("1 to %d usernames at a time, not %d", MaxUsernames, len(usernames)))
	}
	q := url.Values{"usernames": {strings.Join(usernames, ",")}, "user.fields": {"public_metrics"}}
	env, rate, err := c.call(ctx, rc, "/2/users/by", q)
	out := &UserCounts{Followers: map[string]int{}, Sleep: rate.SleepFor(c.now())}
	var partial *PartialError
	switch {
	case errors.As(err, &partial) && partial.NotVisible():
		// None of them could be shown.
		out.Skipped = usernames
		return out, nil
	case err != nil:
		return nil, err
	}
	p, err := decodePage[apiUser](env, rate)
	if err != nil {
		return nil, err
	}
	byLower := make(map[string]string, len(usernames))
	for _, u := range usernames {
		byLower[strings.ToLower(u)] = u
	}
	for _, u := range p.Items {
		asked, ok := byLower[strings.ToLower(u.Username)]
		if !ok || u.PublicMetrics == nil {
			continue
		}
		out.Followers[asked] = u.PublicMetrics.FollowersCount
	}
	for _, u := range usernames {
		if _, ok := out.Followers[u]; !ok {
			out.Skipped = append(out.Skipped, u)
		}
	}
	return out, nil
}

func parseTime(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, s)
}
