package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crowdflow/crowdflow/internal/secrets"
)

func TestTemporalSecurityFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		tls     bool
		apiKey  bool
		payload bool
	}{
		{name: "nothing: plain gRPC", env: nil},
		{name: "API key turns TLS on", env: map[string]string{EnvTemporalAPIKey: "k"}, tls: true, apiKey: true},
		{name: "API key with TLS off", env: map[string]string{EnvTemporalAPIKey: "k", EnvTemporalTLS: "false"}, apiKey: true},
		{name: "TLS alone (system roots)", env: map[string]string{EnvTemporalTLS: "true"}, tls: true},
		{name: "server name turns TLS on", env: map[string]string{EnvTemporalTLSServerName: "x"}, tls: true},
		{name: "payload encryption", env: map[string]string{EnvTemporalPayloadEncryption: "on"}, payload: true},
		{name: "payload encryption off", env: map[string]string{EnvTemporalPayloadEncryption: "off"}},
		{name: "bad TLS flag", env: map[string]string{EnvTemporalTLS: "maybe"}, wantErr: EnvTemporalTLS},
		{name: "bad payload flag", env: map[string]string{EnvTemporalPayloadEncryption: "sometimes"}, wantErr: "on or off"},
		{name: "cert without key", env: map[string]string{EnvTemporalTLSCertData: "x"}, wantErr: "needs both"},
		{name: "cert as path and data", env: map[string]string{EnvTemporalTLSCert: "/x", EnvTemporalTLSCertData: "x"}, wantErr: "set one"},
		{name: "missing CA file", env: map[string]string{EnvTemporalTLSCA: "/nonexistent/ca.pem"}, wantErr: EnvTemporalTLSCA},
		{name: "CA that is no PEM", env: map[string]string{EnvTemporalTLSCAData: "not pem"}, wantErr: "no PEM"},
		{name: "certificates with TLS off", env: map[string]string{EnvTemporalTLS: "false", EnvTemporalTLSCAData: "x"}, wantErr: "TLS certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{EnvTemporalTLS, EnvTemporalTLSCert, EnvTemporalTLSCertData, EnvTemporalTLSKey, EnvTemporalTLSKeyData,
				EnvTemporalTLSCA, EnvTemporalTLSCAData, EnvTemporalTLSServerName, EnvTemporalTLSDisableHostVerify, EnvTemporalAPIKey,
				EnvTemporalPayloadEncryption} {
				t.Setenv(k, tt.env[k])
			}
			c := FromEnv()
			ring, err := secrets.NewRandomKeyring()
			require.NoError(t, err)
			c.Keyring = ring
			opts, err := c.TemporalClientOptions(nil)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.tls, opts.ConnectionOptions.TLS != nil, "TLS")
			assert.Equal(t, tt.apiKey, opts.Credentials != nil, "API key")
			assert.Equal(t, tt.payload, opts.DataConverter != nil, "payload codec")
			assert.Equal(t, tt.payload, opts.FailureConverter != nil, "failures sealed too")
		})
	}
}

func TestPayloadEncryptionNeedsTheKey(t *testing.T) {
	t.Setenv(EnvTemporalPayloadEncryption, "on")
	c := FromEnv()
	_, err := c.TemporalClientOptions(nil)
	assert.ErrorIs(t, err, secrets.ErrNoKey)
}

func TestTLSFromFiles(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, []byte(selfSigned(t)), 0o600))
	s := TemporalSecurity{CAFile: ca, ServerName: "temporal.example"}
	cfg, err := s.TLSConfig()
	require.NoError(t, err)
	assert.NotNil(t, cfg.RootCAs)
	assert.Equal(t, "temporal.example", cfg.ServerName)
	assert.False(t, cfg.InsecureSkipVerify)
}

func selfSigned(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
