package twitterfake

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// User is an X account.
type User struct {
	ID              string // decimal, up to 19 digits
	Username        string
	Name            string
	Description     string
	Location        string
	URL             string
	ProfileImageURL string
	Verified        bool
	Protected       bool
	// Suspended accounts are not served: lookups answer an authorization
	// problem, and their posts are left out.
	Suspended bool
	CreatedAt time.Time
	// FollowersCount is public_metrics.followers_count. When zero, the
	// number of followers in World.Followers is served.
	FollowersCount int
	FollowingCount int
	TweetCount     int
}

// Media is an attachment.
type Media struct {
	Key    string // e.g. "3_1346889436626259968"
	Type   string // photo, video, animated_gif
	URL    string
	Width  int
	Height int
}

// Post is a post (tweet). Hashtags and mentions are read from Text.
type Post struct {
	ID        string // decimal, up to 19 digits
	AuthorID  string
	Text      string
	CreatedAt time.Time
	MediaKeys []string
	// RepliedTo is the id of the post this one replies to, if any.
	RepliedTo string
}

// World is what the fake serves.
type World struct {
	Users []User
	Posts []Post
	Media []Media
	// Followers maps a user id to the ids of its followers, the most
	// recent follower first (the order the API lists them in).
	Followers map[string][]string
}

var idPattern = regexp.MustCompile(`^[0-9]{1,19}$`)

// Validate checks the world's references and ids.
func (w World) Validate() error {
	users := map[string]bool{}
	names := map[string]bool{}
	for _, u := range w.Users {
		if !idPattern.MatchString(u.ID) {
			return fmt.Errorf("user id %q is not 1-19 digits", u.ID)
		}
		if u.Username == "" || users[u.ID] || names[strings.ToLower(u.Username)] {
			return fmt.Errorf("user %s: empty or duplicate id or username", u.ID)
		}
		users[u.ID], names[strings.ToLower(u.Username)] = true, true
	}
	media := map[string]bool{}
	for _, m := range w.Media {
		media[m.Key] = true
	}
	posts := map[string]bool{}
	for _, p := range w.Posts {
		if !idPattern.MatchString(p.ID) || posts[p.ID] {
			return fmt.Errorf("post id %q is not 1-19 digits or is a duplicate", p.ID)
		}
		posts[p.ID] = true
		if !users[p.AuthorID] {
			return fmt.Errorf("post %s: unknown author %s", p.ID, p.AuthorID)
		}
		for _, k := range p.MediaKeys {
			if !media[k] {
				return fmt.Errorf("post %s: unknown media %s", p.ID, k)
			}
		}
	}
	for id, fs := range w.Followers {
		if !users[id] {
			return fmt.Errorf("followers of unknown user %s", id)
		}
		for _, f := range fs {
			if !users[f] {
				return fmt.Errorf("unknown follower %s of %s", f, id)
			}
		}
	}
	return nil
}

func (w World) clone() World {
	out := World{
		Users:     append([]User(nil), w.Users...),
		Posts:     append([]Post(nil), w.Posts...),
		Media:     append([]Media(nil), w.Media...),
		Followers: map[string][]string{},
	}
	for i := range out.Posts {
		out.Posts[i].MediaKeys = append([]string(nil), out.Posts[i].MediaKeys...)
	}
	for k, v := range w.Followers {
		out.Followers[k] = append([]string(nil), v...)
	}
	return out
}

// entity is a hashtag or a mention found in a post's text, with the
// codepoint offsets X gives (start inclusive, end exclusive).
type entity struct {
	Start, End int
	Tag        string // hashtag without '#', or username without '@'
}

var (
	hashtagRE = regexp.MustCompile(`#([\p{L}\p{N}_]+)`)
	mentionRE = regexp.MustCompile(`@([A-Za-z0-9_]{1,15})`)
)

func findEntities(text string, re *regexp.Regexp) []entity {
	var out []entity
	for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
		start := utf8.RuneCountInString(text[:m[0]])
		end := start + utf8.RuneCountInString(text[m[0]:m[1]])
		out = append(out, entity{Start: start, End: end, Tag: text[m[2]:m[3]]})
	}
	return out
}
