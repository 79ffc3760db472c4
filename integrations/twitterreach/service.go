package twitterreach

import (
	"context"
	"fmt"
	"regexp"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/twitter"
)

// Platform is the service's name.
const Platform = "twitter-reach"

// streamChunk is the name of every stream: a chunk of usernames.
const streamChunk = "usernames"

// chunkMeta is a stream's metadata.
type chunkMeta struct {
	Usernames []string `json:"usernames"`
}

// memberPage is how many identities GetStreams reads at a time.
const memberPage = 1000

// handle is what X accepts as a username.
var handle = regexp.MustCompile(`^[A-Za-z0-9_]{1,15}$`)

// Service is twitter-reach.
type Service struct {
	client *twitter.Client
}

// New returns the service; it calls the API as the twitter service does.
func New(o twitter.Options) *Service { return &Service{client: twitter.NewClient(o)} }

// Platform implements integrations.Service.
func (s *Service) Platform() string { return Platform }

// Config implements integrations.Service: once a day.
func (s *Service) Config() integrations.Config { return integrations.Config{Ticks: 24 * 60} }

// CompanionOf implements integrations.Companion: it runs on twitter
// integrations.
func (s *Service) CompanionOf() string { return twitter.Platform }

// GetStreams implements integrations.Service: the tenant's Twitter
// usernames in chunks of up to 100.
func (s *Service) GetStreams(ctx context.Context, rc *integrations.RunContext) ([]integrations.Stream, error) {
	if rc.Records == nil {
		return nil, integrations.Permanent(fmt.Errorf("%s needs the engine's record store", Platform))
	}
	var out []integrations.Stream
	var chunk []string
	flush := func() {
		if len(chunk) > 0 {
			out = append(out, integrations.NewStream(streamChunk, chunkMeta{Usernames: chunk}))
			chunk = nil
		}
	}
	after, skipped := "", 0
	for {
		ids, err := rc.Records.MembersWithIdentity(ctx, rc.Integration.TenantID, twitter.Platform, after, memberPage)
		if err != nil {
			return nil, fmt.Errorf("list members with a Twitter identity: %w", err)
		}
		for _, m := range ids {
			if !handle.MatchString(m.Username) {
				skipped++
				continue
			}
			chunk = append(chunk, m.Username)
			if len(chunk) == twitter.MaxUsernames {
				flush()
			}
		}
		if len(ids) < memberPage {
			break
		}
		after = ids[len(ids)-1].Username
	}
	flush()
	if skipped > 0 && rc.Logger != nil {
		rc.Logger.Warn("twitter-reach: usernames that are not X handles left out", "count", skipped)
	}
	return out, nil
}

// ProcessStream implements integrations.Service: one chunk.
func (s *Service) ProcessStream(ctx context.Context, rc *integrations.RunContext, st integrations.Stream) (*integrations.StreamResult, error) {
	var md chunkMeta
	if err := st.DecodeMetadata(&md); err != nil || st.Name != streamChunk {
		return nil, integrations.Permanent(fmt.Errorf("unknown stream %q", st.Name))
	}
	if len(md.Usernames) == 0 {
		return &integrations.StreamResult{}, nil
	}
	counts, err := s.client.FollowerCounts(ctx, rc, md.Usernames)
	if err != nil {
		return nil, err
	}
	// Setting a count is idempotent, so a retried chunk writes nothing
	// more; members whose count did not change are not written at all.
	changed, err := rc.Records.UpdateReach(ctx, rc.Integration.TenantID, twitter.Platform, counts.Followers)
	if err != nil {
		return nil, fmt.Errorf("update reach: %w", err)
	}
	if rc.Logger != nil {
		rc.Logger.Info("twitter-reach chunk", "usernames", len(md.Usernames), "found", len(counts.Followers),
			"skipped", len(counts.Skipped), "changed", changed)
	}
	return &integrations.StreamResult{Sleep: counts.Sleep}, nil
}

var (
	_ integrations.Service   = (*Service)(nil)
	_ integrations.Companion = (*Service)(nil)
)
