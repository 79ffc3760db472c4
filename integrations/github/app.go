package github

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/internal/quota"
)

// App is a GitHub App's identity: its id and private key (PEM).
type App struct {
	ID  int64
	Key []byte
}

// AppFromEnv reads GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (the PEM text,
// or the path of a file holding it). It returns nil when neither is set.
func AppFromEnv() (*App, error) {
	idText, key := strings.TrimSpace(os.Getenv(EnvAppID)), strings.TrimSpace(os.Getenv(EnvAppPrivateKey))
	if idText == "" && key == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return nil, fmt.Errorf("%s=%q is not a GitHub App id", EnvAppID, idText)
	}
	pem := []byte(key)
	if !strings.HasPrefix(key, "-----BEGIN") {
		if pem, err = os.ReadFile(key); err != nil {
			return nil, fmt.Errorf("%s is neither a PEM key nor a readable file: %w", EnvAppPrivateKey, err)
		}
	}
	return &App{ID: id, Key: pem}, nil
}

// installations keeps one ghinstallation transport per installation, in
// memory only: the transport signs app JWTs and buys installation tokens
// when it needs one (they expire after an hour), so a token never reaches
// the database, a workflow's history or a log.
type installations struct {
	app     *App
	apiURL  string
	base    http.RoundTripper
	timeout time.Duration

	mu sync.Mutex
	tr map[int64]*http.Client
}

func (in *installations) client(id int64) (*http.Client, error) {
	if in.app == nil {
		return nil, integrations.Permanent(fmt.Errorf("github: the integration is a GitHub App installation (%d) but %s and %s are not set", id, EnvAppID, EnvAppPrivateKey))
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if c, ok := in.tr[id]; ok {
		return c, nil
	}
	tr, err := ghinstallation.New(in.base, in.app.ID, id, in.app.Key)
	if err != nil {
		return nil, integrations.Permanent(fmt.Errorf("github app key: %w", err))
	}
	tr.BaseURL = in.apiURL
	if in.tr == nil {
		in.tr = map[int64]*http.Client{}
	}
	// Booked above ghinstallation: the budget is the installation's,
	// whatever token it holds this hour, and the token requests
	// ghinstallation makes below (through in.base) are never booked.
	c := quota.WrapAs(&http.Client{Transport: tr, Timeout: in.timeout}, quota.GitHub, "installation:"+strconv.FormatInt(id, 10))
	in.tr[id] = c
	return c, nil
}

// credFor returns how to authenticate for an integration: its token, or
// its installation (integrationIdentifier) when it has no token.
func (s *Service) credFor(it integrations.Integration) (cred, error) {
	if it.Token != "" {
		sum := sha256.Sum256([]byte(it.Token))
		return cred{key: "token:" + hex.EncodeToString(sum[:8]), http: s.http, token: it.Token}, nil
	}
	id, err := strconv.ParseInt(strings.TrimSpace(it.Identifier), 10, 64)
	if err != nil || id <= 0 {
		return cred{}, integrations.Permanent(errors.New("github: the integration has neither a token nor an installation id (--identifier)"))
	}
	hc, err := s.apps.client(id)
	if err != nil {
		return cred{}, err
	}
	return cred{key: "installation:" + strconv.FormatInt(id, 10), http: hc}, nil
}
