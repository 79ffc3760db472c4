package devmode

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/control"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/webui"
)

// webServer is crowdflow's HTTP API with its web UI, as `starter serve`
// serves them, on the dev mode's web port.
type webServer struct {
	srv  *http.Server
	done chan struct{}
	// tokenHint says how to call the API with curl; the token itself is
	// never printed.
	tokenHint string
}

// startWeb serves the API and the UI with the worker's store and Temporal
// client, and makes the one-time sign-in link. The operator token is
// API_TOKEN when set (so curl can use it), a random one otherwise (the link
// is then the way in).
func (e *Env) startWeb(st *store.Store, tc client.Client) error {
	token := strings.TrimSpace(os.Getenv("API_TOKEN"))
	hint := "Authorization: Bearer $API_TOKEN"
	if token == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		token = base64.RawURLEncoding.EncodeToString(b)
		hint = "set API_TOKEN before the start to call it with curl"
	}
	ctl := &control.Controller{Store: st, Temporal: tc, Registry: e.Registry, TaskQueue: e.TaskQueue}
	ui, err := webui.New(webui.Options{Controller: ctl, Authenticate: webui.OperatorToken(token),
		TemporalUIURL: e.UIURL, Namespace: e.Namespace, Logger: e.logger})
	if err != nil {
		return err
	}
	h, err := api.Handler(api.Options{Controller: ctl, Token: token, UI: ui,
		TemporalUIURL: e.UIURL, Namespace: e.Namespace, Logger: e.logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", e.opts.WebPort))
	if err != nil {
		return fmt.Errorf("the web UI's port (--web-port): %w", err)
	}
	w := &webServer{
		srv:       &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second},
		done:      make(chan struct{}),
		tokenHint: hint,
	}
	go func() {
		defer close(w.done)
		if err := w.srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			e.logger.Error("dev mode: the web UI stopped", "err", err)
		}
	}()
	e.web = w
	e.WebURL = "http://" + ln.Addr().String()
	e.SignInURL = e.WebURL + ui.SignInPath(ui.SignInCode(token))
	return nil
}

// stop shuts the server down, letting requests in flight end. Safe on nil.
func (w *webServer) stop(logger *slog.Logger) {
	if w == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.srv.Shutdown(ctx); err != nil {
		logger.Warn("dev mode: stopping the web UI", "err", err)
	}
	<-w.done
}
