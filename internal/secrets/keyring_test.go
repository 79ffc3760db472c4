package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

func rawKey(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func TestSealOpen(t *testing.T) {
	k, err := NewKeyring(rawKey(t))
	require.NoError(t, err)
	v, err := k.Seal("xoxb-very-secret", "integrations.token:1")
	require.NoError(t, err)
	assert.True(t, v.IsSealed())
	assert.Equal(t, k.CurrentKeyID(), v.KeyID())
	assert.NotContains(t, string(v), "very-secret")

	p, stale, err := k.Open(v, "integrations.token:1")
	require.NoError(t, err)
	assert.Equal(t, "xoxb-very-secret", p)
	assert.False(t, stale)

	// Two seals of one value differ (random nonce): equal tokens do not
	// show as equal rows.
	v2, err := k.Seal("xoxb-very-secret", "integrations.token:1")
	require.NoError(t, err)
	assert.NotEqual(t, v, v2)

	// Bound to where it is stored.
	_, _, err = k.Open(v, "integrations.token:2")
	assert.Error(t, err, "a value moved to another row must not open")
	// Altered.
	b := []byte(v)
	b[len(b)-3] ^= 1
	_, _, err = k.Open(Sealed(b), "integrations.token:1")
	assert.Error(t, err)

	// Empty stays empty; plain text is legacy and stale.
	e, err := k.Seal("", "x")
	require.NoError(t, err)
	assert.Equal(t, Sealed(""), e)
	p, stale, err = k.Open("plain-old-token", "x")
	require.NoError(t, err)
	assert.Equal(t, "plain-old-token", p)
	assert.True(t, stale)
}

func TestRotationKeys(t *testing.T) {
	oldRaw, newRaw := rawKey(t), rawKey(t)
	oldRing, err := NewKeyring(oldRaw)
	require.NoError(t, err)
	v, err := oldRing.Seal("tok", "a")
	require.NoError(t, err)

	// The new key alone does not know the old one.
	newOnly, err := NewKeyring(newRaw)
	require.NoError(t, err)
	_, _, err = newOnly.Open(v, "a")
	assert.ErrorIs(t, err, ErrUnknownKey)

	both, err := NewKeyring(newRaw, oldRaw)
	require.NoError(t, err)
	p, stale, err := both.Open(v, "a")
	require.NoError(t, err)
	assert.Equal(t, "tok", p)
	assert.True(t, stale, "sealed under an old key: to be sealed again")
	assert.NotEqual(t, oldRing.CurrentKeyID(), both.CurrentKeyID())
}

func TestFromLookup(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(rawKey(t))
	old := base64.RawURLEncoding.EncodeToString(rawKey(t))
	file := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(file, []byte(key+"\n"), 0o600))
	short := base64.StdEncoding.EncodeToString([]byte("too short"))
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		noKey   bool
		oldKeys int
	}{
		{name: "none", env: nil, noKey: true},
		{name: "key", env: map[string]string{EnvKey: key}},
		{name: "file", env: map[string]string{EnvKeyFile: file}},
		{name: "key and old keys", env: map[string]string{EnvKey: key, EnvOldKeys: old + ", " + key}, oldKeys: 1},
		{name: "both key and file", env: map[string]string{EnvKey: key, EnvKeyFile: file}, wantErr: "set one"},
		{name: "short key", env: map[string]string{EnvKey: short}, wantErr: "9 bytes"},
		{name: "not base64", env: map[string]string{EnvKey: "not base64!!"}, wantErr: "not base64"},
		{name: "bad old key", env: map[string]string{EnvKey: key, EnvOldKeys: "nope!"}, wantErr: EnvOldKeys},
		{name: "old keys without key", env: map[string]string{EnvOldKeys: old}, wantErr: "current key is required"},
		{name: "missing file", env: map[string]string{EnvKeyFile: file + ".missing"}, wantErr: EnvKeyFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := FromLookup(func(name string) (string, bool) { v, ok := tt.env[name]; return v, ok })
			switch {
			case tt.noKey:
				assert.ErrorIs(t, err, ErrNoKey)
				assert.Contains(t, err.Error(), "openssl rand -base64 32")
			case tt.wantErr != "":
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			default:
				require.NoError(t, err)
				assert.Len(t, k.byID, 1+tt.oldKeys)
			}
		})
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "encryption.key")
	k1, created, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	assert.True(t, created)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	k2, created, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, k1.CurrentKeyID(), k2.CurrentKeyID(), "the same key at the next start")
}

func TestCodec(t *testing.T) {
	oldRaw, newRaw := rawKey(t), rawKey(t)
	oldRing, _ := NewKeyring(oldRaw)
	ring, _ := NewKeyring(newRaw, oldRaw)
	plain, err := converter.GetDefaultDataConverter().ToPayloads("integration-1234", map[string]int{"records": 7})
	require.NoError(t, err)

	enc, err := NewCodec(ring).Encode(plain.Payloads)
	require.NoError(t, err)
	for _, p := range enc {
		assert.Equal(t, PayloadEncoding, string(p.Metadata[converter.MetadataEncoding]))
		assert.False(t, bytes.Contains(p.Data, []byte("integration-1234")))
		assert.False(t, bytes.Contains(p.Data, []byte("json/plain")), "the inner encoding is hidden too")
	}
	dec, err := NewCodec(ring).Decode(enc)
	require.NoError(t, err)
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(dec[0], &s))
	assert.Equal(t, "integration-1234", s)

	// An old key's payloads still decode; unencrypted ones pass through.
	oldEnc, err := NewCodec(oldRing).Encode(plain.Payloads[:1])
	require.NoError(t, err)
	mixed := append(oldEnc, plain.Payloads[1])
	dec, err = NewCodec(ring).Decode(mixed)
	require.NoError(t, err)
	assert.Equal(t, plain.Payloads[1], dec[1])

	// A ring without the key refuses rather than passing ciphertext on.
	other, _ := NewKeyring(rawKey(t))
	_, err = NewCodec(other).Decode(enc)
	assert.True(t, errors.Is(err, ErrUnknownKey), "%v", err)
}

func TestCodecHandler(t *testing.T) {
	ring, err := NewKeyring(rawKey(t))
	require.NoError(t, err)
	plain, err := converter.GetDefaultDataConverter().ToPayloads("run-42")
	require.NoError(t, err)
	enc, err := NewCodec(ring).Encode(plain.Payloads)
	require.NoError(t, err)
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	require.NoError(t, err)

	h := CodecHandler(ring, CodecServerOptions{Origins: []string{"http://ui.example:8233"}, Authorization: "Bearer let-me-in"})
	post := func(path, origin, authz string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := post("/default/decode", "http://ui.example:8233", "Bearer let-me-in")
	require.Equal(t, 200, w.Code, w.Body.String())
	assert.Equal(t, "http://ui.example:8233", w.Header().Get("Access-Control-Allow-Origin"))
	var out commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(w.Body.Bytes(), &out))
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &s))
	assert.Equal(t, "run-42", s)

	assert.Equal(t, 401, post("/default/decode", "", "Bearer wrong").Code)
	assert.Equal(t, 403, post("/default/decode", "http://evil.example", "Bearer let-me-in").Code)
	pre := httptest.NewRequest("OPTIONS", "/default/decode", nil)
	pre.Header.Set("Origin", "http://ui.example:8233")
	pw := httptest.NewRecorder()
	h.ServeHTTP(pw, pre)
	assert.Equal(t, 204, pw.Code, "a preflight needs no Authorization")
	assert.Contains(t, pw.Header().Get("Access-Control-Allow-Headers"), "Authorization")
}
