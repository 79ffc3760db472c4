package devtofake

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// SiteURL is the web site the fake's links point at, as the real API's do.
const SiteURL = "https://dev.to"

// The JSON shapes below follow forem.v1.trimmed.json: every field its
// schemas require is present, with the type they give, and null where the
// real API sends null.

type sharedUserJSON struct {
	Name            string  `json:"name"`
	Username        string  `json:"username"`
	TwitterUsername *string `json:"twitter_username"`
	GithubUsername  *string `json:"github_username"`
	UserID          int64   `json:"user_id"`
	WebsiteURL      *string `json:"website_url"`
	ProfileImage    string  `json:"profile_image"`
	ProfileImage90  string  `json:"profile_image_90"`
}

type sharedOrgJSON struct {
	Name           string `json:"name"`
	Username       string `json:"username"`
	Slug           string `json:"slug"`
	ProfileImage   string `json:"profile_image"`
	ProfileImage90 string `json:"profile_image_90"`
}

type articleJSON struct {
	TypeOf                 string         `json:"type_of"`
	ID                     int64          `json:"id"`
	Title                  string         `json:"title"`
	Description            string         `json:"description"`
	ReadablePublishDate    string         `json:"readable_publish_date"`
	Slug                   string         `json:"slug"`
	Path                   string         `json:"path"`
	URL                    string         `json:"url"`
	CommentsCount          int            `json:"comments_count"`
	PublicReactionsCount   int            `json:"public_reactions_count"`
	CollectionID           *int64         `json:"collection_id"`
	PublishedTimestamp     string         `json:"published_timestamp"`
	PositiveReactionsCount int            `json:"positive_reactions_count"`
	CoverImage             *string        `json:"cover_image"`
	SocialImage            string         `json:"social_image"`
	CanonicalURL           string         `json:"canonical_url"`
	CreatedAt              string         `json:"created_at"`
	EditedAt               *string        `json:"edited_at"`
	CrosspostedAt          *string        `json:"crossposted_at"`
	PublishedAt            string         `json:"published_at"`
	LastCommentAt          string         `json:"last_comment_at"`
	ReadingTimeMinutes     int            `json:"reading_time_minutes"`
	TagList                any            `json:"tag_list"` // []string in lists, "a, b" in the detail
	Tags                   any            `json:"tags"`     // "a, b" in lists, []string in the detail
	BodyHTML               *string        `json:"body_html,omitempty"`
	BodyMarkdown           *string        `json:"body_markdown,omitempty"`
	User                   sharedUserJSON `json:"user"`
	Organization           *sharedOrgJSON `json:"organization,omitempty"`
}

type commentJSON struct {
	TypeOf    string        `json:"type_of"`
	IDCode    string        `json:"id_code"`
	CreatedAt string        `json:"created_at"`
	BodyHTML  string        `json:"body_html"`
	User      any           `json:"user"` // sharedUserJSON, or {} in a placeholder
	Children  []commentJSON `json:"children"`
}

type userJSON struct {
	TypeOf          string  `json:"type_of"`
	ID              int64   `json:"id"`
	Username        string  `json:"username"`
	Name            string  `json:"name"`
	TwitterUsername *string `json:"twitter_username"`
	GithubUsername  *string `json:"github_username"`
	Summary         *string `json:"summary"`
	Location        *string `json:"location"`
	WebsiteURL      *string `json:"website_url"`
	JoinedAt        string  `json:"joined_at"`
	ProfileImage    string  `json:"profile_image"`
}

type orgJSON struct {
	TypeOf          string  `json:"type_of"`
	Username        string  `json:"username"`
	Name            string  `json:"name"`
	Summary         string  `json:"summary"`
	TwitterUsername *string `json:"twitter_username"`
	GithubUsername  *string `json:"github_username"`
	URL             string  `json:"url"`
	Location        string  `json:"location"`
	JoinedAt        string  `json:"joined_at"`
	TechStack       string  `json:"tech_stack"`
	TagLine         *string `json:"tag_line"`
	Story           *string `json:"story"`
	ProfileImage    string  `json:"profile_image"`
}

type errorJSON struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func profileImage(kind string, id any, size int) string {
	return fmt.Sprintf("https://media2.dev.to/dynamic/image/width=%d,height=%d,fit=cover,gravity=auto,format=auto/"+
		"https%%3A%%2F%%2Fdev-to-uploads.s3.amazonaws.com%%2Fuploads%%2F%s%%2Fprofile_image%%2F%v%%2Favatar.png", size, size, kind, id)
}

func renderSharedUser(u *User) sharedUserJSON {
	return sharedUserJSON{
		Name:            displayName(u),
		Username:        u.Username,
		TwitterUsername: nullable(u.TwitterUsername),
		GithubUsername:  nullable(u.GithubUsername),
		UserID:          u.ID,
		WebsiteURL:      nullable(u.WebsiteURL),
		ProfileImage:    profileImage("user", u.ID, 640),
		ProfileImage90:  profileImage("user", u.ID, 90),
	}
}

func displayName(u *User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Username
}

func renderUser(u *User) userJSON {
	return userJSON{
		TypeOf:          "user",
		ID:              u.ID,
		Username:        u.Username,
		Name:            displayName(u),
		TwitterUsername: nullable(u.TwitterUsername),
		GithubUsername:  nullable(u.GithubUsername),
		Summary:         nullable(u.Summary),
		Location:        nullable(u.Location),
		WebsiteURL:      nullable(u.WebsiteURL),
		JoinedAt:        u.JoinedAt.UTC().Format("Jan _2, 2006"),
		ProfileImage:    profileImage("user", u.ID, 320),
	}
}

func renderOrg(o *Organization) orgJSON {
	return orgJSON{
		TypeOf:          "organization",
		Username:        o.Username,
		Name:            o.Name,
		Summary:         o.Summary,
		TwitterUsername: nullable(o.TwitterUsername),
		GithubUsername:  nullable(o.GithubUsername),
		URL:             o.URL,
		Location:        o.Location,
		JoinedAt:        o.JoinedAt.UTC().Format("2006-01-02T15:04:05Z"),
		TechStack:       o.TechStack,
		TagLine:         nullable(o.TagLine),
		Story:           nullable(o.Story),
		ProfileImage:    profileImage("organization", o.Username, 640),
	}
}

func slug(a *Article) string {
	if a.Slug != "" {
		return a.Slug
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(a.Title) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	return s + "-" + toBase36(a.ID)
}

func toBase36(n int64) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 36 {
		b = append([]byte{digits[n%36]}, b...)
	}
	return string(b)
}

// renderArticle renders a in the list shape, or the detail shape.
func (w *World) renderArticle(a *Article, detail bool) articleJSON {
	u := w.user(a.UserID)
	owner := u.Username
	var org *sharedOrgJSON
	if o := w.org(a.Organization); o != nil {
		owner = o.Username
		org = &sharedOrgJSON{
			Name:           o.Name,
			Username:       o.Username,
			Slug:           o.Username,
			ProfileImage:   profileImage("organization", o.Username, 640),
			ProfileImage90: profileImage("organization", o.Username, 90),
		}
	}
	path := "/" + owner + "/" + slug(a)
	words := len(strings.Fields(a.BodyMarkdown))
	out := articleJSON{
		TypeOf:                 "article",
		ID:                     a.ID,
		Title:                  a.Title,
		Description:            a.Description,
		ReadablePublishDate:    a.PublishedAt.UTC().Format("Jan 2"),
		Slug:                   slug(a),
		Path:                   path,
		URL:                    SiteURL + path,
		CommentsCount:          countComments(a.Comments),
		PublicReactionsCount:   0,
		PublishedTimestamp:     ts(a.PublishedAt),
		PositiveReactionsCount: 0,
		SocialImage:            fmt.Sprintf("%s/social_previews/article/%d.png", SiteURL, a.ID),
		CanonicalURL:           SiteURL + path,
		CreatedAt:              ts(a.PublishedAt),
		PublishedAt:            ts(a.PublishedAt),
		LastCommentAt:          ts(a.LastCommentAt),
		ReadingTimeMinutes:     max(1, words/265),
		User:                   renderSharedUser(u),
		Organization:           org,
	}
	tags := append([]string{}, a.Tags...)
	joined := strings.Join(tags, ", ")
	if detail {
		// The detail shape swaps the two tag fields (api-quirks §2.4.4).
		out.TagList, out.Tags = joined, tags
		html := "<p>" + a.Description + "</p>\n\n"
		md := a.BodyMarkdown
		out.BodyHTML, out.BodyMarkdown = &html, &md
	} else {
		out.TagList, out.Tags = tags, joined
	}
	return out
}

func (w *World) renderComments(cs []Comment) []commentJSON {
	out := make([]commentJSON, 0, len(cs))
	for i := range cs {
		out = append(out, w.renderComment(&cs[i]))
	}
	return out
}

func (w *World) renderComment(c *Comment) commentJSON {
	out := commentJSON{
		TypeOf:    "comment",
		IDCode:    c.IDCode,
		CreatedAt: ts(c.CreatedAt),
		Children:  w.renderComments(c.Children),
	}
	switch {
	case c.Deleted:
		out.BodyHTML, out.User = "<p>[deleted]</p>", struct{}{}
	case c.Hidden:
		out.BodyHTML, out.User = "<p>[hidden by post author]</p>", struct{}{}
	default:
		out.BodyHTML = c.BodyHTML
		out.User = renderSharedUser(w.user(c.UserID))
	}
	return out
}
