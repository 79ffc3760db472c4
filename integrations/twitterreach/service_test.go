package twitterreach

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/twitter"
)

// members is an in-memory RecordStore with the identities of one tenant.
type members struct{ names []string }

func (m *members) KnownSourceIDs(context.Context, string, string, string, []string, time.Time) (map[string]bool, error) {
	return nil, nil
}

func (m *members) MembersWithIdentity(_ context.Context, _, platform, after string, limit int) ([]integrations.MemberIdentity, error) {
	if platform != twitter.Platform {
		return nil, nil
	}
	var out []integrations.MemberIdentity
	for _, n := range m.names {
		if n > after && len(out) < limit {
			out = append(out, integrations.MemberIdentity{Username: n})
		}
	}
	return out, nil
}

func (m *members) UpdateReach(context.Context, string, string, map[string]int) (int, error) {
	return 0, nil
}

func TestStreamsAreChunksOf100Handles(t *testing.T) {
	var names []string
	for i := range 2450 {
		names = append(names, fmt.Sprintf("user_%05d", i))
	}
	names = append(names, "not a handle", "much_too_long_for_x")
	sort.Strings(names)
	rc := &integrations.RunContext{Records: &members{names: names}}
	streams, err := New(twitter.Options{}).GetStreams(context.Background(), rc)
	require.NoError(t, err)
	require.Len(t, streams, 25)
	seen := 0
	for i, st := range streams {
		var md chunkMeta
		require.NoError(t, st.DecodeMetadata(&md))
		want := 100
		if i == 24 {
			want = 50
		}
		assert.Len(t, md.Usernames, want)
		for _, u := range md.Usernames {
			assert.Regexp(t, `^[A-Za-z0-9_]{1,15}$`, u)
		}
		seen += len(md.Usernames)
	}
	assert.Equal(t, 2450, seen, "every handle once, across pages of 1000 identities")
}
