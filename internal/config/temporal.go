package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/crowdflow/crowdflow/internal/secrets"
)

// TemporalSecurity is how the commands reach a secured Temporal: mTLS with
// a private CA, or Temporal Cloud's API keys. The variables are named as
// the Temporal CLI names them, so one environment serves both.
type TemporalSecurity struct {
	// TLS forces TLS on (TEMPORAL_TLS=true) without client certificates,
	// or off (false) with an API key on a local, plain server. Unset
	// (nil): TLS is on when any other setting here is given.
	TLS *bool
	// CertFile and KeyFile are the client certificate and its key
	// (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY: paths), or CertData and
	// KeyData the PEM itself (TEMPORAL_TLS_CERT_DATA, TEMPORAL_TLS_KEY_DATA).
	CertFile, KeyFile, CertData, KeyData string
	// CAFile (TEMPORAL_TLS_CA) or CAData (TEMPORAL_TLS_CA_DATA) is the CA
	// the server's certificate must chain to; the system's roots when
	// neither is given.
	CAFile, CAData string
	// ServerName is the name checked in the server's certificate
	// (TEMPORAL_TLS_SERVER_NAME), when it differs from the address's host.
	ServerName string
	// DisableHostVerification skips the check of the server's certificate
	// (TEMPORAL_TLS_DISABLE_HOST_VERIFICATION): for tests only.
	DisableHostVerification bool
	// APIKey is a Temporal Cloud API key (TEMPORAL_API_KEY), sent as a
	// bearer token; TLS is on with it unless TEMPORAL_TLS=false.
	APIKey string
	// PayloadEncryption seals every payload the client writes to Temporal
	// (TEMPORAL_PAYLOAD_ENCRYPTION=on) with the key ring.
	PayloadEncryption bool
}

// Environment variables of TemporalSecurity.
const (
	EnvTemporalTLS                     = "TEMPORAL_TLS"
	EnvTemporalTLSCert                 = "TEMPORAL_TLS_CERT"
	EnvTemporalTLSCertData             = "TEMPORAL_TLS_CERT_DATA"
	EnvTemporalTLSKey                  = "TEMPORAL_TLS_KEY"
	EnvTemporalTLSKeyData              = "TEMPORAL_TLS_KEY_DATA"
	EnvTemporalTLSCA                   = "TEMPORAL_TLS_CA"
	EnvTemporalTLSCAData               = "TEMPORAL_TLS_CA_DATA"
	EnvTemporalTLSServerName           = "TEMPORAL_TLS_SERVER_NAME"
	EnvTemporalTLSDisableHostVerify    = "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"
	EnvTemporalAPIKey                  = "TEMPORAL_API_KEY"
	EnvTemporalPayloadEncryption       = "TEMPORAL_PAYLOAD_ENCRYPTION"
	payloadEncryptionValuesDescription = "on or off"
)

// TemporalSecurityFromEnv reads the TEMPORAL_TLS_*, TEMPORAL_API_KEY and
// TEMPORAL_PAYLOAD_ENCRYPTION variables.
func TemporalSecurityFromEnv() (TemporalSecurity, error) {
	get := func(k string) string { return strings.TrimSpace(os.Getenv(k)) }
	s := TemporalSecurity{
		CertFile: get(EnvTemporalTLSCert), KeyFile: get(EnvTemporalTLSKey), CAFile: get(EnvTemporalTLSCA),
		CertData: os.Getenv(EnvTemporalTLSCertData), KeyData: os.Getenv(EnvTemporalTLSKeyData), CAData: os.Getenv(EnvTemporalTLSCAData),
		ServerName: get(EnvTemporalTLSServerName), APIKey: get(EnvTemporalAPIKey),
	}
	if v := get(EnvTemporalTLS); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("%s=%q: say true or false", EnvTemporalTLS, v)
		}
		s.TLS = &b
	}
	if v := get(EnvTemporalTLSDisableHostVerify); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("%s=%q: say true or false", EnvTemporalTLSDisableHostVerify, v)
		}
		s.DisableHostVerification = b
	}
	switch strings.ToLower(get(EnvTemporalPayloadEncryption)) {
	case "", "off", "false", "0", "no":
	case "on", "true", "1", "yes":
		s.PayloadEncryption = true
	default:
		return s, fmt.Errorf("%s=%q: say %s", EnvTemporalPayloadEncryption, get(EnvTemporalPayloadEncryption), payloadEncryptionValuesDescription)
	}
	return s, nil
}

// tlsOn says whether the connection uses TLS.
func (s TemporalSecurity) tlsOn() bool {
	if s.TLS != nil {
		return *s.TLS
	}
	return s.CertFile != "" || s.KeyFile != "" || s.CertData != "" || s.KeyData != "" || s.CAFile != "" || s.CAData != "" ||
		s.ServerName != "" || s.DisableHostVerification || s.APIKey != ""
}

// TLSConfig is the client's TLS configuration (nil: plain gRPC).
func (s TemporalSecurity) TLSConfig() (*tls.Config, error) {
	if !s.tlsOn() {
		if s.CertFile != "" || s.CertData != "" || s.CAFile != "" || s.CAData != "" {
			return nil, fmt.Errorf("%s=false, yet TLS certificates are given", EnvTemporalTLS)
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName, InsecureSkipVerify: s.DisableHostVerification} //nolint:gosec // opt-in, documented as for tests
	certPEM, err := pemOf(s.CertFile, s.CertData, EnvTemporalTLSCert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := pemOf(s.KeyFile, s.KeyData, EnvTemporalTLSKey)
	if err != nil {
		return nil, err
	}
	switch {
	case certPEM != nil && keyPEM != nil:
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", EnvTemporalTLSCert, EnvTemporalTLSKey, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case certPEM != nil || keyPEM != nil:
		return nil, fmt.Errorf("mTLS needs both %s and %s (the client certificate and its key)", EnvTemporalTLSCert, EnvTemporalTLSKey)
	}
	caPEM, err := pemOf(s.CAFile, s.CAData, EnvTemporalTLSCA)
	if err != nil {
		return nil, err
	}
	if caPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("%s: no PEM certificate in it", EnvTemporalTLSCA)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// pemOf reads a PEM given as a path or as data (not both).
func pemOf(path, data, name string) ([]byte, error) {
	switch {
	case path != "" && data != "":
		return nil, fmt.Errorf("both %s and %s_DATA are set: set one", name, name)
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return b, nil
	case data != "":
		return []byte(data), nil
	}
	return nil, nil
}

// apply sets the client options: TLS, the API key, and the payload codec
// (which needs the key ring).
func (s TemporalSecurity) apply(o *client.Options, keys *secrets.Keyring) error {
	tlsCfg, err := s.TLSConfig()
	if err != nil {
		return err
	}
	o.ConnectionOptions.TLS = tlsCfg
	if s.APIKey != "" {
		o.Credentials = client.NewAPIKeyStaticCredentials(s.APIKey)
	}
	if s.PayloadEncryption {
		if keys == nil {
			return fmt.Errorf("%s=on needs the encryption key: %w", EnvTemporalPayloadEncryption, secrets.ErrNoKey)
		}
		o.DataConverter = PayloadConverter(keys)
		// Error messages and stack traces of failures go into history
		// too: encoded into a payload, they are sealed like the rest.
		o.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
			DataConverter: o.DataConverter, EncodeCommonAttributes: true,
		})
	}
	return nil
}

// PayloadConverter is the default data converter with the key ring's
// payload codec: what TEMPORAL_PAYLOAD_ENCRYPTION=on gives every client.
func PayloadConverter(keys *secrets.Keyring) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), secrets.NewCodec(keys))
}
