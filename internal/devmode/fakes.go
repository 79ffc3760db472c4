package devmode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto"
	"github.com/crowdflow/crowdflow/integrations/devto/devtofake"
	"github.com/crowdflow/crowdflow/integrations/discord"
	"github.com/crowdflow/crowdflow/integrations/discord/discordfake"
	"github.com/crowdflow/crowdflow/integrations/github"
	"github.com/crowdflow/crowdflow/integrations/github/githubfake"
	"github.com/crowdflow/crowdflow/integrations/registry"
	"github.com/crowdflow/crowdflow/integrations/slack"
	"github.com/crowdflow/crowdflow/integrations/slack/slackfake"
	"github.com/crowdflow/crowdflow/integrations/twitter"
	"github.com/crowdflow/crowdflow/integrations/twitter/twitterfake"
	"github.com/crowdflow/crowdflow/integrations/twitterreach"
)

// demoPlatform is one platform of the demo: its fake API, a service
// pointed at it, and the integration the demo tenant gets.
type demoPlatform struct {
	platform string
	// handler is the fake API, served under /<platform>/.
	handler http.Handler
	// apiPath is the service's API base below the fake's mount point.
	apiPath string
	// service builds the platform's service for an API base URL.
	service func(apiURL string) integrations.Service
	// companions build the services that run on this platform's
	// integrations (twitter-reach on twitter's), pointed at the same fake.
	companions []func(apiURL string) integrations.Service
	// The demo integration. identifier is the platform's own id of the
	// demo workspace (integrations."integrationIdentifier").
	settings   string
	token      string
	identifier string
}

// demoPlatforms are the platforms with a fake API and a demo world, each
// a fresh fake serving its DemoWorld. Every name in those worlds says it is
// made up.
func demoPlatforms() []demoPlatform {
	slackWorld := slackfake.DemoWorld()
	return []demoPlatform{
		{
			platform: devto.Platform,
			handler:  devtofake.New(devtofake.DemoWorld()),
			apiPath:  "/api",
			service:  func(u string) integrations.Service { return devto.New(devto.Options{BaseURL: u}) },
			settings: `{"users": ["demo_ada", "demo_grace"], "organizations": ["crowdflow-demo"]}`,
			// Dev.to reads public data without an API key.
			identifier: "crowdflow-demo",
		},
		{
			platform:   discord.Platform,
			handler:    discordfake.New(discordfake.DemoWorld(), discordfake.Switches{Token: discordfake.DemoToken}),
			service:    func(u string) integrations.Service { return discord.New(discord.Options{APIURL: u}) },
			settings:   fmt.Sprintf(`{"guildId": %q}`, discordfake.DemoGuildID),
			token:      discordfake.DemoToken,
			identifier: discordfake.DemoGuildID,
		},
		{
			platform: github.Platform,
			handler:  githubfake.New(githubfake.DemoWorld(), githubfake.Options{Tokens: []string{githubfake.DemoToken}}).Handler(),
			// REST at the mount point, GraphQL at /graphql below it, as on
			// api.github.com.
			service: func(u string) integrations.Service {
				return github.New(github.Options{APIURL: u, GraphQLURL: u + "/graphql"})
			},
			settings: fmt.Sprintf(`{"repos": [{"owner": %q, "name": %q}]}`, githubfake.DemoOwner, githubfake.DemoRepo),
			token:    githubfake.DemoToken,
		},
		{
			platform:   slack.Platform,
			handler:    slackfake.New(slackWorld),
			apiPath:    "/api/",
			service:    func(u string) integrations.Service { return slack.New(slack.Options{APIURL: u}) },
			settings:   `{}`,
			token:      slackfake.DemoToken,
			identifier: slackWorld.Team.ID,
		},
		{
			platform: twitter.Platform,
			// The world's posts are dated back from now: recent search
			// sees 7 days only.
			handler: twitterfake.New(twitterfake.DemoWorld(time.Now()), twitterfake.Switches{AppTokens: []string{twitterfake.DemoAppToken}}),
			service: func(u string) integrations.Service { return twitter.New(twitter.Options{APIURL: u}) },
			companions: []func(string) integrations.Service{
				func(u string) integrations.Service { return twitterreach.New(twitter.Options{APIURL: u}) },
			},
			settings: fmt.Sprintf(`{"hashtags": [%q]}`, twitterfake.DemoHashtag),
			// An app-only token, which never expires: the fake's user
			// tokens would not outlive a restart of the dev worker.
			token:      twitterfake.DemoAppToken,
			identifier: twitterfake.DemoProfileID,
		},
	}
}

// fakeAPIs serves the demo platforms' fake APIs on one loopback port, each
// under /<platform>/.
type fakeAPIs struct {
	URL       string // http://127.0.0.1:port
	platforms []demoPlatform
	srv       *http.Server
	done      chan struct{}
}

func startFakes(port int) (*fakeAPIs, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("port %d for the fake APIs (--api-port) is taken: %w", port, err)
	}
	f := &fakeAPIs{
		URL:       "http://" + l.Addr().String(),
		platforms: demoPlatforms(),
		done:      make(chan struct{}),
	}
	mux := http.NewServeMux()
	for _, p := range f.platforms {
		prefix := "/" + p.platform
		mux.Handle(prefix+"/", http.StripPrefix(prefix, p.handler))
	}
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "crowdflow --dev: fake platform APIs serving made-up demo data (nothing here is real).")
		for _, p := range f.platforms {
			fmt.Fprintf(w, "%-8s %s\n", p.platform, f.apiURL(p))
		}
	})
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(l)
	}()
	return f, nil
}

// apiURL is the API base URL a platform's service is pointed at.
func (f *fakeAPIs) apiURL(p demoPlatform) string {
	return f.URL + "/" + p.platform + p.apiPath
}

// URLs are the fake API base URLs by platform.
func (f *fakeAPIs) URLs() map[string]string {
	out := map[string]string{}
	for _, p := range f.platforms {
		out[p.platform] = f.apiURL(p)
	}
	return out
}

func (f *fakeAPIs) platform(name string) (demoPlatform, bool) {
	for _, p := range f.platforms {
		if p.platform == name {
			return p, true
		}
	}
	return demoPlatform{}, false
}

// registry is the built-in registry with every platform that has a fake
// pointed at it; a platform without one keeps its service as
// registry.Default() builds it (real API, or its *_API_URL).
func (f *fakeAPIs) registry(base *registry.Registry) (*registry.Registry, []string) {
	var services []integrations.Service
	var real []string
	companions := map[string]integrations.Service{}
	for _, p := range f.platforms {
		for _, c := range p.companions {
			svc := c(f.apiURL(p))
			companions[svc.Platform()] = svc
		}
	}
	for _, name := range base.Platforms() {
		if p, ok := f.platform(name); ok {
			services = append(services, p.service(f.apiURL(p)))
			continue
		}
		if svc, ok := companions[name]; ok {
			services = append(services, svc)
			continue
		}
		svc, _ := base.Get(name)
		services = append(services, svc)
		real = append(real, name)
	}
	sort.Strings(real)
	return registry.New(services...), real
}

func (f *fakeAPIs) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = f.srv.Close()
	}
	<-f.done
}
