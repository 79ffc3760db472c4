package twitter

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/twitter/twitterfake"
	"github.com/crowdflow/crowdflow/internal/apicontract"
	"github.com/crowdflow/crowdflow/internal/pgtest"
	"github.com/crowdflow/crowdflow/internal/secrets"
	"github.com/crowdflow/crowdflow/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var now = time.Date(2026, time.March, 10, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is the service on a fake behind a recorder, with a store.
type fixture struct {
	fake  *twitterfake.Server
	rec   *apicontract.Recorder
	srv   *httptest.Server
	svc   *Service
	clock *clock
	store *store.Store
}

const (
	clientID     = "test-client"
	clientSecret = "test-secret"
)

func newFixture(t *testing.T, w twitterfake.World, sw twitterfake.Switches) *fixture {
	t.Helper()
	c := &clock{t: now}
	sw.Now = c.Now
	sw.ClientID, sw.ClientSecret = clientID, clientSecret
	f := &fixture{fake: twitterfake.New(w, sw), clock: c}
	f.rec = apicontract.NewRecorder(f.fake.Handler())
	f.srv = httptest.NewServer(f.rec)
	t.Cleanup(f.srv.Close)
	f.svc = New(Options{APIURL: f.srv.URL, ClientID: clientID, ClientSecret: clientSecret, HTTPClient: f.srv.Client(), Now: c.Now})
	return f
}

// withStore gives the fixture a database.
func (f *fixture) withStore(t *testing.T) *fixture {
	t.Helper()
	s, err := store.Open(context.Background(), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	ring, err := secrets.NewRandomKeyring()
	require.NoError(t, err)
	s.SetKeyring(ring)
	f.store = s
	return f
}

// connect stores a twitter integration with a pair the fake issued (its
// expiry unknown, as at connect time) and returns a run context for it.
func (f *fixture) connect(t *testing.T, settings string, onboarding bool) *integrations.RunContext {
	t.Helper()
	access, refresh := f.fake.IssuePair()
	rc := &integrations.RunContext{
		RunID: uuid.NewString(), Onboarding: onboarding, StartedAt: f.clock.Now(),
		Integration: integrations.Integration{ID: uuid.NewString(), TenantID: uuid.NewString(), Platform: Platform,
			Identifier: twitterfake.DemoProfileID, Settings: json.RawMessage(settings), Token: access, RefreshToken: refresh},
		Logger: slog.New(slog.DiscardHandler),
	}
	if f.store != nil {
		id, err := f.store.CreateIntegration(context.Background(), store.NewIntegration{
			TenantID: rc.Integration.TenantID, Platform: Platform, Status: store.StatusInProgress,
			Settings: rc.Integration.Settings, Token: access, RefreshToken: refresh, Identifier: twitterfake.DemoProfileID,
		})
		require.NoError(t, err)
		rc.Integration.ID = id
		rc.Tokens, rc.Records = f.store, f.store
	}
	return rc
}

// drain processes the run's streams and all their pages, the way the
// engine does (without storing records), and returns the activities.
func (f *fixture) drain(t *testing.T, rc *integrations.RunContext) []integrations.Activity {
	t.Helper()
	ctx := context.Background()
	queue, err := f.svc.GetStreams(ctx, rc)
	require.NoError(t, err)
	var out []integrations.Activity
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		res, err := f.svc.ProcessStream(ctx, rc, st)
		require.NoError(t, err, st.Name)
		out = append(out, res.Activities...)
		if res.NextPage != nil {
			queue = append(queue, *res.NextPage)
		}
	}
	return out
}

func world() twitterfake.World { return twitterfake.DemoWorld(now) }
