package twitter

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
)

// Platform is the twitter integrations' platform.
const Platform = "twitter"

// Activity types and scores (crowd.dev's).
const (
	TypeFollow  = "follow"
	TypeMention = "mention"
	TypeHashtag = "hashtag"

	scoreFollow = 2
	scorePost   = 6
)

// Stream names: followers, mentions, and hashtag/<tag>.
const (
	streamFollowers     = "followers"
	streamMentions      = "mentions"
	streamHashtagPrefix = "hashtag/"
)

// Member attribute names.
const (
	attrSourceID  = "sourceId"
	attrAvatarURL = "avatarUrl"
	attrLocation  = "location"
	attrBio       = "bio"
	attrURL       = "url"
)

// streamMeta is a stream's metadata: the hashtag of a hashtag stream, and
// the page token of a page after the first.
type streamMeta struct {
	Tag   string `json:"tag,omitempty"`
	Token string `json:"token,omitempty"`
}

// Service is the twitter integration.
type Service struct {
	client *Client
}

// New returns the service.
func New(o Options) *Service { return &Service{client: NewClient(o)} }

// Client returns the service's API client (twitter-reach shares it).
func (s *Service) Client() *Client { return s.client }

// Platform implements integrations.Service.
func (s *Service) Platform() string { return Platform }

// Config implements integrations.Service: a check every 30 minutes, and
// crowd.dev's cap of 10000 records per 30 days (X's read quotas are
// monthly).
func (s *Service) Config() integrations.Config {
	// Two streams in flight: followers and searches are separate
	// endpoints with their own 15-minute windows.
	return integrations.Config{Ticks: 30, GlobalLimit: 10000, LimitResetFrequency: 30 * 24 * time.Hour, ParallelStreams: 2}
}

// MemberAttributes implements integrations.MemberAttributeProvider.
func (s *Service) MemberAttributes() []integrations.MemberAttribute {
	return []integrations.MemberAttribute{
		{Name: attrSourceID, Label: "Source ID", Type: "string", Show: false, CanDelete: false},
		{Name: attrAvatarURL, Label: "Avatar URL", Type: "url", Show: false, CanDelete: false},
		{Name: attrLocation, Label: "Location", Type: "string", Show: true, CanDelete: false},
		{Name: attrBio, Label: "Bio", Type: "string", Show: true, CanDelete: false},
		{Name: attrURL, Label: "URL", Type: "url", Show: true, CanDelete: false},
	}
}

var profileIDPattern = regexp.MustCompile(`^[0-9]{1,19}$`)

func profileID(rc *integrations.RunContext) (string, error) {
	id := rc.Integration.Identifier
	if !profileIDPattern.MatchString(id) {
		return "", integrations.Permanent(fmt.Errorf("the integration's identifier %q is not an X profile id (1 to 19 digits): connect with --identifier PROFILE_ID", id))
	}
	return id, nil
}

// ValidateIdentifier implements integrations.IdentifierValidator: the
// profile id is required, and is X's numeric id (not the @handle).
func (s *Service) ValidateIdentifier(id string) error {
	if !profileIDPattern.MatchString(id) {
		return fmt.Errorf("the X profile id is required, 1 to 19 digits (the numeric id, not the @handle), not %q", id)
	}
	return nil
}

// GetStreams implements integrations.Service: followers, mentions, and one
// stream per hashtag. It calls no API.
func (s *Service) GetStreams(ctx context.Context, rc *integrations.RunContext) ([]integrations.Stream, error) {
	if _, err := profileID(rc); err != nil {
		return nil, err
	}
	set, err := readSettings(rc.Integration.Settings)
	if err != nil {
		return nil, err
	}
	out := []integrations.Stream{integrations.NewStream(streamFollowers, nil), integrations.NewStream(streamMentions, nil)}
	for _, t := range set.Hashtags {
		out = append(out, integrations.NewStream(streamHashtagPrefix+t, streamMeta{Tag: t}))
	}
	return out, nil
}

// ProcessStream implements integrations.Service: one page of a stream.
func (s *Service) ProcessStream(ctx context.Context, rc *integrations.RunContext, st integrations.Stream) (*integrations.StreamResult, error) {
	id, err := profileID(rc)
	if err != nil {
		return nil, err
	}
	var md streamMeta
	if err := st.DecodeMetadata(&md); err != nil {
		return nil, integrations.Permanent(fmt.Errorf("stream metadata: %w", err))
	}
	var res *integrations.StreamResult
	var next string
	var rate rateInfo
	var typ string
	switch {
	case st.Name == streamFollowers:
		p, err := s.client.Followers(ctx, rc, id, md.Token)
		if err != nil {
			return nil, profileErr(err, id)
		}
		res, next, rate, typ = s.followRecords(rc, id, p), p.Next, p.Rate, TypeFollow
	case st.Name == streamMentions:
		p, err := s.client.Mentions(ctx, rc, id, md.Token)
		if err != nil {
			return nil, profileErr(err, id)
		}
		res, next, rate, typ = postRecords(rc, TypeMention, "", p), p.Next, p.Rate, TypeMention
	case strings.HasPrefix(st.Name, streamHashtagPrefix) && md.Tag != "":
		p, err := s.client.SearchHashtag(ctx, rc, md.Tag, md.Token)
		if err != nil {
			return nil, err
		}
		res, next, rate, typ = postRecords(rc, TypeHashtag, md.Tag, p), p.Next, p.Rate, TypeHashtag
	default:
		return nil, integrations.Permanent(fmt.Errorf("unknown stream %q", st.Name))
	}
	res.Sleep = rate.SleepFor(s.client.now())
	if next == "" {
		return res, nil
	}
	if !rc.Onboarding {
		// A check stops at what an earlier run stored: followers are
		// listed newest first, posts newest first, so everything past a
		// known one is known too. Known means stored before this run
		// began, so a post stored by this run's other stream (a mention
		// that carries a tracked hashtag) does not stop it.
		stop, err := s.reachedKnown(ctx, rc, typ, res)
		if err != nil {
			return nil, err
		}
		if stop {
			return res, nil
		}
	}
	md.Token = next
	n := integrations.NewStream(st.Name, md)
	res.NextPage = &n
	return res, nil
}

// reachedKnown reports whether the page holds an activity of typ stored
// before the run began.
func (s *Service) reachedKnown(ctx context.Context, rc *integrations.RunContext, typ string, res *integrations.StreamResult) (bool, error) {
	if rc.Records == nil || len(res.Activities) == 0 {
		return false, nil
	}
	ids := make([]string, len(res.Activities))
	for i, a := range res.Activities {
		ids[i] = a.SourceID
	}
	known, err := rc.Records.KnownSourceIDs(ctx, rc.Integration.TenantID, Platform, typ, ids, rc.StartedAt)
	if err != nil {
		return false, fmt.Errorf("look up known %s activities: %w", typ, err)
	}
	return len(known) > 0, nil
}

// profileErr turns "the profile cannot be shown" into a permanent error:
// retrying will not bring a deleted or suspended account back.
func profileErr(err error, id string) error {
	var partial *PartialError
	if errors.As(err, &partial) && partial.NotVisible() {
		return integrations.Permanent(fmt.Errorf("the X profile %s cannot be read (deleted, suspended or protected): %w", id, err))
	}
	return err
}

// epoch is the timestamp of the follows found by an onboarding, whose
// real date X does not give.
var epoch = time.Unix(0, 0).UTC()

// FollowSourceID is the sourceId of the follow of profileID by followerID:
// the same whatever run finds it, onboarding or check (crowd.dev #38), and
// apart for two profiles of one tenant.
func FollowSourceID(profileID, followerID string) string {
	h := sha1.Sum([]byte(Platform + "/" + TypeFollow + "/" + profileID + "/" + followerID))
	return hex.EncodeToString(h[:])
}

func (s *Service) followRecords(rc *integrations.RunContext, profileID string, p *page[apiUser]) *integrations.StreamResult {
	res := &integrations.StreamResult{}
	// Follows have no date on X: an onboarding's are from before anyone
	// looked (1970-01-01), a check's from when the run saw them first.
	ts := epoch
	if !rc.Onboarding {
		ts = rc.StartedAt.UTC()
	}
	for _, u := range p.Items {
		m := member(u)
		res.Activities = append(res.Activities, integrations.Activity{
			Type: TypeFollow, SourceID: FollowSourceID(profileID, u.ID), Timestamp: ts, Member: m,
			URL: profileURL(u.Username), Score: scoreFollow, IsContribution: false,
		})
	}
	if n := len(p.Items); n > 0 {
		res.LastRecord = p.Items[n-1].ID
		res.LastRecordTimestamp = ts
	}
	return res
}

func profileURL(username string) string { return "https://twitter.com/" + username }

func member(u apiUser) integrations.Member {
	m := integrations.Member{
		Username: u.Username, SourceID: u.ID, DisplayName: u.Name,
		Attributes: map[string]any{attrSourceID: u.ID, attrURL: profileURL(u.Username)},
	}
	if u.ProfileImageURL != "" {
		m.Attributes[attrAvatarURL] = u.ProfileImageURL
	}
	if u.Location != "" {
		m.Attributes[attrLocation] = u.Location
	}
	if u.Description != "" {
		m.Attributes[attrBio] = u.Description
	}
	if u.PublicMetrics != nil {
		n := u.PublicMetrics.FollowersCount
		m.Reach = &n
	}
	return m
}

// postRecords maps a page of posts to activities of typ, each joined with
// its author and media from includes. A post whose author is not included
// (suspended since, or hidden) cannot be attributed and is left out.
func postRecords(rc *integrations.RunContext, typ, tag string, p *page[apiTweet]) *integrations.StreamResult {
	res := &integrations.StreamResult{}
	users := make(map[string]apiUser, len(p.Includes.Users))
	for _, u := range p.Includes.Users {
		users[u.ID] = u
	}
	media := make(map[string]apiMedia, len(p.Includes.Media))
	for _, m := range p.Includes.Media {
		media[m.MediaKey] = m
	}
	var tracked []string
	if tag != "" {
		tracked = trackedHashtags(rc, tag)
	}
	skipped := 0
	for _, t := range p.Items {
		author, ok := users[t.AuthorID]
		ts, err := parseTime(t.CreatedAt)
		if !ok || err != nil {
			skipped++
			continue
		}
		attrs := map[string]any{"attachments": attachments(t, media), "entities": orEmpty(t.Entities)}
		if tag != "" {
			attrs["hashtag"] = trackedTag(tracked, t, tag)
		}
		res.Activities = append(res.Activities, integrations.Activity{
			Type: typ, SourceID: t.ID, Timestamp: ts, Member: member(author), Body: t.Text,
			URL: "https://twitter.com/i/status/" + t.ID, Attributes: attrs, Score: scorePost, IsContribution: true,
		})
		res.LastRecord, res.LastRecordTimestamp = t.ID, ts
	}
	if (skipped > 0 || len(p.Problems) > 0) && rc.Logger != nil {
		rc.Logger.Warn("twitter posts left out", "type", typ, "skipped", skipped, "problems", len(p.Problems))
	}
	return res
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func attachments(t apiTweet, media map[string]apiMedia) []any {
	out := []any{}
	if t.Attachments == nil {
		return out
	}
	for _, k := range t.Attachments.MediaKeys {
		m, ok := media[k]
		if !ok {
			continue
		}
		u := m.URL
		if u == "" {
			u = m.PreviewImageURL
		}
		out = append(out, map[string]any{"mediaKey": m.MediaKey, "type": m.Type, "url": u})
	}
	return out
}

var (
	_ integrations.Service                 = (*Service)(nil)
	_ integrations.MemberAttributeProvider = (*Service)(nil)
	_ integrations.SettingsValidator       = (*Service)(nil)
	_ integrations.IdentifierValidator     = (*Service)(nil)
)

// trackedHashtags is the integration's tracked hashtags, in its settings'
// order, read once per page; tag alone when the settings cannot be read.
func trackedHashtags(rc *integrations.RunContext, tag string) []string {
	set, err := readSettings(rc.Integration.Settings)
	if err != nil {
		return []string{tag}
	}
	return set.Hashtags
}

// trackedTag is the hashtag attribute of a post found by the search for
// tag: the first of tracked (the integration's hashtags, in its settings'
// order) that the post carries. A post with two tracked hashtags is found
// by two streams, which may run at once: both must write the same record,
// whichever stores it last.
func trackedTag(tracked []string, t apiTweet, tag string) string {
	carried := map[string]bool{}
	if list, ok := t.Entities["hashtags"].([]any); ok {
		for _, h := range list {
			if m, ok := h.(map[string]any); ok {
				if s, ok := m["tag"].(string); ok {
					carried[strings.ToLower(s)] = true
				}
			}
		}
	}
	for _, name := range tracked {
		if carried[strings.ToLower(name)] {
			return name
		}
	}
	return tag
}
