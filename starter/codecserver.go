package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crowdflow/crowdflow/api"
	"github.com/crowdflow/crowdflow/internal/secrets"
)

// DefaultCodecAddr is where `starter codec-server` listens: loopback, as it
// decrypts whatever it is sent.
const DefaultCodecAddr = "127.0.0.1:8081"

func codecServerCmd(e *env) *cobra.Command {
	var addr string
	var origins []string
	cmd := &cobra.Command{
		Use:   "codec-server [--addr HOST:PORT] [--web-origin URL]...",
		Short: "Serve Temporal Web's codec endpoint: decrypts the payloads of TEMPORAL_PAYLOAD_ENCRYPTION=on for an operator who has the key",
		Long: `Serve the remote codec endpoint Temporal Web and the Temporal CLI call to show
payloads sealed by TEMPORAL_PAYLOAD_ENCRYPTION=on (POST .../decode and
.../encode). It needs the key ring (ENCRYPTION_KEY or ENCRYPTION_KEY_FILE, and
ENCRYPTION_KEYS_OLD for payloads sealed under earlier keys). In Temporal Web:
Settings (the codec server icon) -> Codec Server endpoint http://127.0.0.1:8081.
With the CLI: temporal workflow show -w <id> --codec-endpoint http://127.0.0.1:8081.

Whoever reaches it reads every payload: it listens on loopback by default,
answers browsers only from --web-origin (Temporal Web's origin), and with
CODEC_AUTH set requires that exact Authorization header on every request.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := e.cfg.LoadKeyring(); err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := e.cfg.RequireKeyring("codec-server"); err != nil {
				return &exitError{code: 2, err: err}
			}
			clean := make([]string, 0, len(origins))
			for _, o := range origins {
				u, err := url.Parse(strings.TrimSpace(o))
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return &exitError{code: 2, err: fmt.Errorf("--web-origin %q is not an http(s) origin", o)}
				}
				clean = append(clean, u.Scheme+"://"+u.Host)
			}
			h := secrets.CodecHandler(e.cfg.Keyring, secrets.CodecServerOptions{Origins: clean, Authorization: os.Getenv("CODEC_AUTH")})
			return serveCodec(cmd.Context(), e, addr, h)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", getenvDefault("CODEC_SERVER_ADDR", DefaultCodecAddr), "listen address (CODEC_SERVER_ADDR)")
	cmd.Flags().StringSliceVar(&origins, "web-origin", []string{getenvDefault("TEMPORAL_UI_URL", api.DefaultTemporalUIURL)},
		"origin of Temporal Web allowed to call from a browser (repeatable; default TEMPORAL_UI_URL)")
	return cmd
}

func serveCodec(ctx context.Context, e *env, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("codec-server: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(e.errOut, "codec-server: listening on http://%s (key %s)\n", ln.Addr(), e.cfg.Keyring.CurrentKeyID())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("codec-server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	<-done
	return nil
}
