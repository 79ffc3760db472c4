package twitter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/twitter/twitterfake"
	"github.com/crowdflow/crowdflow/store"
)

func byType(acts []integrations.Activity) map[string][]integrations.Activity {
	out := map[string][]integrations.Activity{}
	for _, a := range acts {
		out[a.Type] = append(out[a.Type], a)
	}
	return out
}

func TestOnboardingRecords(t *testing.T) {
	f := newFixture(t, world(), twitterfake.Switches{})
	rc := f.connect(t, `{"hashtags":["crowdflowdemo"]}`, true)
	acts := byType(f.drain(t, rc))

	follows := acts[TypeFollow]
	require.Len(t, follows, 3)
	ada := follows[2]
	assert.Equal(t, "demo_ada_x", ada.Member.Username)
	assert.Equal(t, FollowSourceID(twitterfake.DemoProfileID, "1590000000000000011"), ada.SourceID)
	assert.Equal(t, time.Unix(0, 0).UTC(), ada.Timestamp, "onboarding follows are from 1970")
	assert.Equal(t, 2, ada.Score)
	assert.False(t, ada.IsContribution)
	assert.Equal(t, "https://twitter.com/demo_ada_x", ada.URL)
	require.NotNil(t, ada.Member.Reach)
	assert.Equal(t, 1200, *ada.Member.Reach)
	assert.Equal(t, map[string]any{"sourceId": "1590000000000000011", "url": "https://twitter.com/demo_ada_x",
		"avatarUrl": "https://example.com/ada.png", "location": "Demo City", "bio": "Demo account: Go and Temporal."}, ada.Member.Attributes)

	mentions := acts[TypeMention]
	require.Len(t, mentions, 2)
	m := mentions[1]
	assert.Equal(t, "1590000000000000101", m.SourceID, "ids above 2^53 kept exact")
	assert.Equal(t, now.Add(-50*time.Hour), m.Timestamp)
	assert.Equal(t, "https://twitter.com/i/status/1590000000000000101", m.URL)
	assert.Equal(t, 6, m.Score)
	assert.True(t, m.IsContribution)
	assert.Equal(t, "demo_ada_x", m.Member.Username)
	assert.Equal(t, []any{map[string]any{"mediaKey": "3_1590000000000000101", "type": "photo", "url": "https://example.com/demo-photo.png"}},
		m.Attributes["attachments"])
	assert.NotEmpty(t, m.Attributes["entities"])
	assert.NotContains(t, m.Attributes, "hashtag")

	tags := acts[TypeHashtag]
	require.Len(t, tags, 2)
	assert.Equal(t, "crowdflowdemo", tags[0].Attributes["hashtag"])
	assert.Equal(t, "1590000000000000103", tags[0].SourceID)
	assert.Equal(t, "1590000000000000101", tags[1].SourceID, "a post that mentions and carries the tag: once per type")
}

func TestPaging(t *testing.T) {
	w := world()
	for i := range 250 {
		id := "17" + pad(i)
		w.Users = append(w.Users, twitterfake.User{ID: id, Username: "f" + pad(i)})
		w.Followers[twitterfake.DemoProfileID] = append(w.Followers[twitterfake.DemoProfileID], id)
		w.Posts = append(w.Posts, twitterfake.Post{ID: "18" + pad(i), AuthorID: id, CreatedAt: now.Add(-time.Duration(i) * time.Minute),
			Text: "hi @crowdflow_demo #paged"})
	}
	f := newFixture(t, w, twitterfake.Switches{})
	rc := f.connect(t, `{"hashtags":["paged"]}`, true)
	acts := byType(f.drain(t, rc))
	assert.Len(t, acts[TypeFollow], 253, "one page of 1000")
	assert.Len(t, acts[TypeMention], 252, "three pages of 100")
	assert.Len(t, acts[TypeHashtag], 250)
	assert.Equal(t, 1, f.fake.Requests(twitterfake.RouteFollowers))
	assert.Equal(t, 3, f.fake.Requests(twitterfake.RouteMentions))
	assert.Equal(t, 3, f.fake.Requests(twitterfake.RouteSearch))
}

func pad(i int) string {
	s := "00000000000000000" + itoa(i)
	return s[len(s)-17:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	stream := integrations.NewStream(streamFollowers, nil)
	for _, form := range []string{twitterfake.Form88, twitterfake.FormProblem, twitterfake.FormUsageCapped} {
		t.Run("429 "+form, func(t *testing.T) {
			f := newFixture(t, world(), twitterfake.Switches{})
			rc := f.connect(t, `{}`, true)
			f.fake.RateLimitNext(1, form, 90*time.Second)
			_, err := f.svc.ProcessStream(ctx, rc, stream)
			rl, ok := integrations.AsRateLimited(err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, now.Add(90*time.Second), rl.Until, "until the reset instant, not decades")
			assert.Equal(t, "GET /2/users/:id/followers", rl.Bucket, "X counts per endpoint: only this stream waits")
		})
	}
	t.Run("remaining <= 1 sleeps until the reset", func(t *testing.T) {
		f := newFixture(t, world(), twitterfake.Switches{Limits: map[string]int{twitterfake.RouteFollowers: 3}, RateWindow: 10 * time.Minute})
		rc := f.connect(t, `{}`, true)
		res, err := f.svc.ProcessStream(ctx, rc, stream)
		require.NoError(t, err)
		assert.Zero(t, res.Sleep, "2 left")
		res, err = f.svc.ProcessStream(ctx, rc, stream)
		require.NoError(t, err)
		assert.Equal(t, 10*time.Minute, res.Sleep, "1 left")
	})
}

func TestPartialErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, world(), twitterfake.Switches{})
	rc := f.connect(t, `{}`, true)
	f.fake.PartialErrorNext(1)
	_, err := f.svc.ProcessStream(ctx, rc, integrations.NewStream(streamMentions, nil))
	var partial *PartialError
	require.ErrorAs(t, err, &partial, "errors and no data: not an empty page")
	assert.False(t, integrations.IsPermanent(err), "a transient problem is retried")

	rc.Integration.Identifier = "1234"
	_, err = f.svc.ProcessStream(ctx, rc, integrations.NewStream(streamFollowers, nil))
	require.Error(t, err)
	assert.True(t, integrations.IsPermanent(err), "the profile is gone: no retries")

	rc.Integration.Identifier = "crowdflow_demo"
	_, err = f.svc.GetStreams(ctx, rc)
	assert.True(t, integrations.IsPermanent(err), "a handle is not an id")
}

// TestCheckStopsAtKnown: a check pages until it meets a follower or post
// stored before it began.
func TestCheckStopsAtKnown(t *testing.T) {
	w := world()
	for i := range 30 {
		id := "17" + pad(i)
		w.Users = append(w.Users, twitterfake.User{ID: id, Username: "f" + pad(i)})
		w.Posts = append(w.Posts, twitterfake.Post{ID: "18" + pad(i), AuthorID: id, CreatedAt: now.Add(-time.Duration(i+60) * time.Hour),
			Text: "hi @crowdflow_demo"})
	}
	f := newFixture(t, w, twitterfake.Switches{}).withStore(t)
	rc := f.connect(t, `{}`, true)
	ctx := context.Background()
	// Store what an onboarding found.
	acts := f.drain(t, rc)
	res := &integrations.StreamResult{Activities: acts}
	tx, err := f.store.Pool().Begin(ctx)
	require.NoError(t, err)
	_, err = store.WriteRecords(ctx, tx, store.Target{TenantID: rc.Integration.TenantID, IntegrationID: rc.Integration.ID, Platform: Platform}, res)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	// New posts, more than a page of mentions, then a check.
	for i := range 120 {
		id := "19" + pad(i)
		f.fake.AddPost(twitterfake.Post{ID: id, AuthorID: "1590000000000000012", CreatedAt: now.Add(time.Duration(i) * time.Second), Text: "new @crowdflow_demo"}, nil)
	}
	f.clock.Add(time.Hour)
	check := *rc
	check.Onboarding, check.StartedAt = false, time.Now().Add(time.Minute)
	p1, err := f.svc.ProcessStream(ctx, &check, integrations.NewStream(streamMentions, nil))
	require.NoError(t, err)
	require.NotNil(t, p1.NextPage, "page 1 is all new")
	p2, err := f.svc.ProcessStream(ctx, &check, *p1.NextPage)
	require.NoError(t, err)
	assert.Nil(t, p2.NextPage, "page 2 reaches stored posts: stop")

}
