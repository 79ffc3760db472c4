package secrets

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// MaxCodecBody bounds a codec request: Temporal limits one payload to 2 MB
// by default, and Temporal Web sends a page of them.
const MaxCodecBody = 16 << 20

// CodecServerOptions configure CodecHandler.
type CodecServerOptions struct {
	// Origins are the web origins (scheme://host:port of Temporal Web)
	// whose pages may call the codec server from a browser. Requests
	// without an Origin header (the Temporal CLI's --codec-endpoint) are
	// not affected.
	Origins []string
	// Authorization, when set, is the exact Authorization header every
	// request must carry (the CLI's --codec-auth; Temporal Web sends its
	// user's token with "pass access token").
	Authorization string
}

// CodecHandler serves the remote codec endpoint Temporal Web and the CLI
// call (POST <base>/encode and <base>/decode, JSON payloads in and out;
// Temporal Web adds the namespace to the path). It decrypts with the key
// ring: whoever reaches it reads every payload, so it belongs on the
// operator's machine or behind the same access as the key.
func CodecHandler(k *Keyring, o CodecServerOptions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(NewCodec(k))
	origins := map[string]bool{}
	for _, or := range o.Origins {
		origins[strings.TrimRight(or, "/")] = true
	}
	var authSum [sha256.Size]byte
	if o.Authorization != "" {
		authSum = sha256.Sum256([]byte(o.Authorization))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			if !origins[origin] {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if o.Authorization != "" {
			sum := sha256.Sum256([]byte(r.Header.Get("Authorization")))
			if subtle.ConstantTimeCompare(sum[:], authSum[:]) != 1 {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST, OPTIONS")
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxCodecBody)
		inner.ServeHTTP(w, r)
	})
}
