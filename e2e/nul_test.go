package e2e

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto"
	"github.com/crowdflow/crowdflow/integrations/devto/devtofake"
	"github.com/crowdflow/crowdflow/store"
)

// NUL characters in what an API returns (a comment body, a name, a
// location, an article title that goes into the pipeline data, the stream
// metadata and the activity's attributes) do not fail the run: it ends
// processed with the text stored without them.
func TestNULInAPIDataIsStoredWithoutIt(t *testing.T) {
	at := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, time.UTC) }
	fake := devtofake.New(devtofake.World{
		Users: []devtofake.User{
			{ID: 101, Username: "alice", Name: "Ali\x00ce", Location: "Lis\x00bon", JoinedAt: at(1, 1)},
			{ID: 102, Username: "bob", Name: "Bob", Summary: "bio\x00", JoinedAt: at(1, 2)},
		},
		Articles: []devtofake.Article{
			{ID: 9001, Title: "Dur\x00able", UserID: 101, PublishedAt: at(2, 9), Comments: []devtofake.Comment{
				{IDCode: "c1", UserID: 102, BodyHTML: "<p>Ni\x00ce</p>", CreatedAt: at(3, 1)},
			}},
		},
	})
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	e := newEnv(t, []integrations.Service{devto.New(devto.Options{BaseURL: srv.URL + "/api"})})

	_, state := e.connect(devto.Platform, `{"users": ["alice"]}`, "")
	require.Equal(t, store.RunProcessed, state)
	assert.Equal(t, []string{"c1|<p>Nice</p>|Durable"},
		e.strings(`SELECT concat_ws('|', "sourceId", body, attributes->>'articleTitle') FROM activities`))
	assert.Equal(t, []string{"Bob|bio"}, e.strings(`SELECT concat_ws('|', "displayName", attributes->'bio'->>'devto') FROM members`))
}
