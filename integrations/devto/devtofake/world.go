package devtofake

import (
	"fmt"
	"time"
)

// World is everything the fake serves.
type World struct {
	Users         []User
	Organizations []Organization
	Articles      []Article
}

// User is a Dev.to account.
type User struct {
	ID              int64
	Username        string
	Name            string
	Summary         string // the bio
	Location        string
	WebsiteURL      string
	TwitterUsername string
	GithubUsername  string
	JoinedAt        time.Time
	// Deleted accounts answer 404 on /users/{id} but still show on the
	// comments they wrote (see the package doc).
	Deleted bool
}

// Organization is a Dev.to organization; Username is its slug.
type Organization struct {
	Username        string
	Name            string
	Summary         string
	Location        string
	URL             string
	TwitterUsername string
	GithubUsername  string
	TechStack       string
	TagLine         string
	Story           string
	JoinedAt        time.Time
}

// Article is a published post.
type Article struct {
	ID    int64
	Title string
	// Slug defaults to one made from the title and the id.
	Slug        string
	Description string
	// UserID is the author; Organization, when set, is the slug of the
	// organization the article was posted under.
	UserID       int64
	Organization string
	Tags         []string
	BodyMarkdown string
	PublishedAt  time.Time
	// LastCommentAt defaults to the newest comment's time, or PublishedAt.
	// AddComment moves it forward, as a new comment does on Dev.to.
	LastCommentAt time.Time
	Comments      []Comment
}

// Comment is a comment with its replies.
type Comment struct {
	// IDCode is the string id Dev.to gives comments: the numeric id in
	// base 26, e.g. "2k1pd".
	IDCode    string
	UserID    int64
	BodyHTML  string
	CreatedAt time.Time
	// Deleted and Hidden comments are served as placeholders.
	Deleted  bool
	Hidden   bool
	Children []Comment
}

// Validate checks that the world's references hold: ids are unique and
// every article and comment names a known user (and organization).
func (w *World) Validate() error {
	users := map[int64]bool{}
	for _, u := range w.Users {
		if u.ID <= 0 || u.Username == "" {
			return fmt.Errorf("user %d %q: needs an id and a username", u.ID, u.Username)
		}
		if users[u.ID] {
			return fmt.Errorf("user id %d appears twice", u.ID)
		}
		users[u.ID] = true
	}
	orgs := map[string]bool{}
	for _, o := range w.Organizations {
		if o.Username == "" || orgs[o.Username] {
			return fmt.Errorf("organization %q: empty or duplicated slug", o.Username)
		}
		orgs[o.Username] = true
	}
	articles := map[int64]bool{}
	codes := map[string]bool{}
	var checkComments func(a int64, cs []Comment) error
	checkComments = func(a int64, cs []Comment) error {
		for _, c := range cs {
			if c.IDCode == "" || codes[c.IDCode] {
				return fmt.Errorf("article %d: comment id_code %q empty or duplicated", a, c.IDCode)
			}
			codes[c.IDCode] = true
			if !c.Deleted && !c.Hidden && !users[c.UserID] {
				return fmt.Errorf("comment %s: unknown user %d", c.IDCode, c.UserID)
			}
			if err := checkComments(a, c.Children); err != nil {
				return err
			}
		}
		return nil
	}
	for _, a := range w.Articles {
		if a.ID <= 0 || articles[a.ID] {
			return fmt.Errorf("article id %d: not positive or duplicated", a.ID)
		}
		articles[a.ID] = true
		if !users[a.UserID] {
			return fmt.Errorf("article %d: unknown user %d", a.ID, a.UserID)
		}
		if a.Organization != "" && !orgs[a.Organization] {
			return fmt.Errorf("article %d: unknown organization %q", a.ID, a.Organization)
		}
		if err := checkComments(a.ID, a.Comments); err != nil {
			return err
		}
	}
	return nil
}

func (w *World) clone() World {
	out := World{
		Users:         append([]User(nil), w.Users...),
		Organizations: append([]Organization(nil), w.Organizations...),
		Articles:      make([]Article, len(w.Articles)),
	}
	for i, a := range w.Articles {
		a.Tags = append([]string(nil), a.Tags...)
		a.Comments = cloneComments(a.Comments)
		out.Articles[i] = a
	}
	return out
}

func cloneComments(cs []Comment) []Comment {
	if cs == nil {
		return nil
	}
	out := make([]Comment, len(cs))
	for i, c := range cs {
		c.Children = cloneComments(c.Children)
		out[i] = c
	}
	return out
}

func (w *World) user(id int64) *User {
	for i := range w.Users {
		if w.Users[i].ID == id {
			return &w.Users[i]
		}
	}
	return nil
}

func (w *World) userByName(name string) *User {
	for i := range w.Users {
		if w.Users[i].Username == name {
			return &w.Users[i]
		}
	}
	return nil
}

func (w *World) org(slug string) *Organization {
	for i := range w.Organizations {
		if w.Organizations[i].Username == slug {
			return &w.Organizations[i]
		}
	}
	return nil
}

func (w *World) article(id int64) *Article {
	for i := range w.Articles {
		if w.Articles[i].ID == id {
			return &w.Articles[i]
		}
	}
	return nil
}

// findComment returns the comment with the id code in cs, recursively.
func findComment(cs []Comment, idCode string) *Comment {
	for i := range cs {
		if cs[i].IDCode == idCode {
			return &cs[i]
		}
		if c := findComment(cs[i].Children, idCode); c != nil {
			return c
		}
	}
	return nil
}

func newestComment(cs []Comment) time.Time {
	var t time.Time
	for _, c := range cs {
		if c.CreatedAt.After(t) {
			t = c.CreatedAt
		}
		if ct := newestComment(c.Children); ct.After(t) {
			t = ct
		}
	}
	return t
}

func countComments(cs []Comment) int {
	n := 0
	for _, c := range cs {
		if !c.Deleted && !c.Hidden {
			n++
		}
		n += countComments(c.Children)
	}
	return n
}

// checkNewComment tells whether c (and its replies) may be added.
func (w *World) checkNewComment(c Comment) error {
	if c.IDCode == "" {
		return fmt.Errorf("devtofake: comment needs an id_code")
	}
	for i := range w.Articles {
		if findComment(w.Articles[i].Comments, c.IDCode) != nil {
			return fmt.Errorf("devtofake: comment id_code %q is taken", c.IDCode)
		}
	}
	if !c.Deleted && !c.Hidden && w.user(c.UserID) == nil {
		return fmt.Errorf("devtofake: comment %s: unknown user %d", c.IDCode, c.UserID)
	}
	for _, ch := range c.Children {
		if err := w.checkNewComment(ch); err != nil {
			return err
		}
	}
	return nil
}
