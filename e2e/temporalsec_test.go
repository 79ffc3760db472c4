package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/rpc/encryption"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/crowdflow/crowdflow/integrations"
	"github.com/crowdflow/crowdflow/integrations/devto"
	"github.com/crowdflow/crowdflow/integrations/devto/devtofake"
	"github.com/crowdflow/crowdflow/internal/config"
	"github.com/crowdflow/crowdflow/internal/secrets"
	"github.com/crowdflow/crowdflow/store"
	"github.com/crowdflow/crowdflow/workflows"
)

// testPKI is a CA and the server's and a client's certificates, made for
// one test and written as PEM files.
type testPKI struct {
	dir                          string
	caFile, certFile, keyFile    string
	serverTLS, internalClientTLS *tls.Config
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	serial := int64(0)
	tmpl := func(cn string) *x509.Certificate {
		serial++
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	}
	caKey := newKey()
	caT := tmpl("crowdflow test CA")
	caT.IsCA, caT.BasicConstraintsValid, caT.KeyUsage = true, true, x509.KeyUsageCertSign
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	issue := func(cn string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) (certPEM, keyPEM []byte) {
		k := newKey()
		c := tmpl(cn)
		c.ExtKeyUsage, c.IPAddresses, c.DNSNames, c.KeyUsage = []x509.ExtKeyUsage{usage}, ips, dns, x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, c, ca, &k.PublicKey, caKey)
		require.NoError(t, err)
		kb, err := x509.MarshalECPrivateKey(k)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	serverCert, serverKey := issue("temporal.test", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")}, []string{"temporal.test"})
	clientCert, clientKey := issue("crowdflow worker", x509.ExtKeyUsageClientAuth, nil, nil)
	p := &testPKI{dir: dir, caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "client.pem"), keyFile: filepath.Join(dir, "client.key")}
	require.NoError(t, os.WriteFile(p.caFile, caPEM, 0o600))
	require.NoError(t, os.WriteFile(p.certFile, clientCert, 0o600))
	require.NoError(t, os.WriteFile(p.keyFile, clientKey, 0o600))

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	sc, err := tls.X509KeyPair(serverCert, serverKey)
	require.NoError(t, err)
	cc, err := tls.X509KeyPair(clientCert, clientKey)
	require.NoError(t, err)
	p.serverTLS = &tls.Config{Certificates: []tls.Certificate{sc}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	// The server's own services reach its frontend as clients too.
	p.internalClientTLS = &tls.Config{Certificates: []tls.Certificate{cc}, RootCAs: pool, ServerName: "temporal.test", MinVersion: tls.VersionTLS12}
	return p
}

// frontendTLS serves the frontend over mTLS; the services talk among
// themselves in the clear (one process).
type frontendTLS struct{ p *testPKI }

func (f frontendTLS) GetInternodeServerConfig() (*tls.Config, error) { return nil, nil }
func (f frontendTLS) GetInternodeClientConfig() (*tls.Config, error) { return nil, nil }
func (f frontendTLS) GetFrontendServerConfig() (*tls.Config, error)  { return f.p.serverTLS, nil }
func (f frontendTLS) GetFrontendClientConfig() (*tls.Config, error) {
	return f.p.internalClientTLS, nil
}
func (f frontendTLS) GetRemoteClusterClientConfig(string) (*tls.Config, error) { return nil, nil }
func (f frontendTLS) GetExpiringCerts(time.Duration) (encryption.CertExpirationMap, encryption.CertExpirationMap, error) {
	return nil, nil, nil
}

func quietSlog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestWorkerOverMTLS runs an onboarding on a Temporal server that accepts
// only clients with a certificate of its CA: the worker's and the
// controller's client are made by config from TEMPORAL_TLS_* as the
// worker, the starter and the API make theirs.
func TestWorkerOverMTLS(t *testing.T) {
	p := newTestPKI(t)
	ts := temporaltest.NewServer(temporaltest.WithT(t),
		temporaltest.WithBaseServerOptions(temporal.WithTLSConfigFactory(frontendTLS{p})),
		temporaltest.WithBaseClientOptions(client.Options{Logger: tlog.NewStructuredLogger(quietSlog()),
			ConnectionOptions: client.ConnectionOptions{TLS: p.internalClientTLS}}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Setenv(config.EnvTemporalTLSCert, p.certFile)
	t.Setenv(config.EnvTemporalTLSKey, p.keyFile)
	t.Setenv(config.EnvTemporalTLSCA, p.caFile)
	t.Setenv(config.EnvTemporalTLSServerName, "temporal.test")
	cfg := config.FromEnv()
	cfg.TemporalAddress, cfg.TemporalNamespace = ts.GetFrontendHostPort(), ts.GetDefaultNamespace()

	// Without a client certificate, or without TLS, the server refuses.
	for name, sec := range map[string]config.TemporalSecurity{
		"no client certificate": {CAFile: p.caFile, ServerName: "temporal.test"},
		"plain gRPC":            {},
		"wrong server name":     {CertFile: p.certFile, KeyFile: p.keyFile, CAFile: p.caFile, ServerName: "other.test"},
	} {
		t.Run(name, func(t *testing.T) {
			bad := cfg
			bad.Temporal = sec
			dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
			defer dcancel()
			c, err := bad.DialTemporal(dctx, quietSlog())
			if err == nil {
				_, err = c.CheckHealth(dctx, &client.CheckHealthRequest{})
				c.Close()
			}
			assert.Error(t, err)
		})
	}

	srv := httptest.NewServer(devtofake.New(devtoWorld()).Handler())
	t.Cleanup(srv.Close)
	e := newEnv(t, []integrations.Service{devto.New(devto.Options{BaseURL: srv.URL + "/api", PageSize: 2})},
		withClient(func(e *env) client.Client {
			tc, err := cfg.DialTemporal(ctx, quietSlog())
			require.NoError(t, err)
			t.Cleanup(tc.Close)
			require.NoError(t, workflows.EnsureSearchAttributes(ctx, tc, cfg.TemporalNamespace))
			return tc
		}))
	_, state := e.connect(devto.Platform, devtoSettings, "devto-key-over-mtls")
	assert.Equal(t, store.RunProcessed, state)
	(&devtoEnv{env: e}).assertOnboarded()
}

// TestPayloadEncryption runs an onboarding with TEMPORAL_PAYLOAD_ENCRYPTION
// on: every payload in the run's history is sealed (only the search
// attributes, which Temporal must index, are not: they hold ids), a client
// without the key reads none of them, and the codec server decodes them.
func TestPayloadEncryption(t *testing.T) {
	srv := httptest.NewServer(devtofake.New(devtoWorld()).Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	t.Setenv(config.EnvTemporalPayloadEncryption, "on")
	var cfg config.Config
	e := newEnv(t, []integrations.Service{devto.New(devto.Options{BaseURL: srv.URL + "/api", PageSize: 2})},
		withClient(func(e *env) client.Client {
			cfg = config.FromEnv()
			cfg.TemporalAddress, cfg.TemporalNamespace = temporalServer().GetFrontendHostPort(), temporalServer().GetDefaultNamespace()
			cfg.Keyring = e.ring
			tc, err := cfg.DialTemporal(ctx, quietSlog())
			require.NoError(t, err)
			t.Cleanup(tc.Close)
			return tc
		}))
	started, state := e.connect(devto.Platform, devtoSettings, "")
	require.Equal(t, store.RunProcessed, state)

	// The history as the server keeps it, read without the key.
	plain := temporalServer().GetDefaultClient()
	var sealed []*commonpb.Payload
	iter := plain.GetWorkflowHistory(ctx, started.WorkflowID, started.WorkflowRunID, false, 0)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		eachPayload(ev.ProtoReflect(), func(p *commonpb.Payload) {
			assert.Equal(t, secrets.PayloadEncoding, string(p.Metadata[converter.MetadataEncoding]), "event %d %s: a payload in the clear", ev.EventId, ev.EventType)
			assert.NotContains(t, string(p.Data), started.RunID, "event %d: the run id is readable", ev.EventId)
			sealed = append(sealed, p)
		})
	}
	require.Greater(t, len(sealed), 10, "the run's inputs, results and memo are payloads")

	// The codec server, as Temporal Web calls it, opens them.
	cs := httptest.NewServer(secrets.CodecHandler(e.ring, secrets.CodecServerOptions{Origins: []string{"http://127.0.0.1:8233"}}))
	t.Cleanup(cs.Close)
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: sealed})
	require.NoError(t, err)
	req, err := http.NewRequest("POST", cs.URL+"/"+cfg.TemporalNamespace+"/decode", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://127.0.0.1:8233")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode, string(out))
	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(out, &decoded))
	require.Len(t, decoded.Payloads, len(sealed))
	var all strings.Builder
	for _, p := range decoded.Payloads {
		assert.Equal(t, "json/plain", string(p.Metadata[converter.MetadataEncoding]))
		all.Write(p.Data)
	}
	assert.Contains(t, all.String(), started.RunID, "the decoded inputs name the run")
}

// eachPayload calls f with every Payload in m, search attributes left out
// (Temporal indexes them, so they cannot be sealed; they hold ids only).
func eachPayload(m protoreflect.Message, f func(*commonpb.Payload)) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		f(p)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Name() == "search_attributes" || fd.Kind() != protoreflect.MessageKind {
			return true
		}
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				eachPayload(v.List().Get(i).Message(), f)
			}
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					eachPayload(mv.Message(), f)
					return true
				})
			}
		default:
			eachPayload(v.Message(), f)
		}
		return true
	})
}
