package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of an AES-256 key.
const KeySize = 32

// Environment variables of the key ring.
const (
	EnvKey     = "ENCRYPTION_KEY"
	EnvKeyFile = "ENCRYPTION_KEY_FILE"
	EnvOldKeys = "ENCRYPTION_KEYS_OLD"
)

// prefix marks a sealed value; what follows is "<keyId>:<base64url(nonce|ciphertext)>".
const prefix = "enc:v1:"

// ErrNoKey says no key is configured.
var ErrNoKey = errors.New("no encryption key: set " + EnvKey + " (base64 of 32 random bytes: openssl rand -base64 32) or " + EnvKeyFile)

// ErrUnknownKey says a value was sealed under a key the ring does not hold.
var ErrUnknownKey = errors.New("sealed under a key that is neither ENCRYPTION_KEY nor in ENCRYPTION_KEYS_OLD")

// Sealed is a value as stored: sealed, or legacy plain text. Its own type
// keeps it from being passed where a usable token is expected.
type Sealed string

// IsSealed reports whether v is encrypted (rather than legacy plain text).
func (v Sealed) IsSealed() bool { return strings.HasPrefix(string(v), prefix) }

// KeyID is the id of the key v was sealed under ("" for plain text).
func (v Sealed) KeyID() string {
	if !v.IsSealed() {
		return ""
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(string(v), prefix), ":")
	return id
}

type key struct {
	id   string
	aead cipher.AEAD
}

// Keyring is the current key and the old keys accepted for reading. It is
// safe for concurrent use.
type Keyring struct {
	current key
	byID    map[string]key
}

// NewKeyring builds a ring from raw 32-byte keys: current seals, current
// and old open.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	cur, err := newKey(current)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvKey, err)
	}
	k := &Keyring{current: cur, byID: map[string]key{cur.id: cur}}
	for i, raw := range old {
		o, err := newKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%s (key %d): %w", EnvOldKeys, i+1, err)
		}
		if _, dup := k.byID[o.id]; !dup {
			k.byID[o.id] = o
		}
	}
	return k, nil
}

// KeyID names a key by the first 6 bytes of its SHA-256: stable, short,
// and saying nothing usable about the key.
func KeyID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:6])
}

func newKey(raw []byte) (key, error) {
	if len(raw) != KeySize {
		return key{}, fmt.Errorf("the key is %d bytes; AES-256 needs %d (base64 of 32 random bytes: openssl rand -base64 32)", len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, err
	}
	return key{id: KeyID(raw), aead: aead}, nil
}

// CurrentKeyID is the id of the key Seal uses.
func (k *Keyring) CurrentKeyID() string { return k.current.id }

// Seal encrypts plaintext under the current key, bound to aad (where the
// value is stored). The empty string stays empty: there is nothing to hide
// and "no token" must stay distinguishable.
func (k *Keyring) Seal(plaintext, aad string) (Sealed, error) {
	if plaintext == "" {
		return "", nil
	}
	data, err := k.current.seal([]byte(plaintext), []byte(aad))
	if err != nil {
		return "", err
	}
	return Sealed(prefix + k.current.id + ":" + base64.RawURLEncoding.EncodeToString(data)), nil
}

func (k key) seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.aead.Seal(nonce, nonce, plaintext, aad), nil
}

func (k key) open(data, aad []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(data) < n+k.aead.Overhead() {
		return nil, errors.New("sealed value is too short")
	}
	return k.aead.Open(nil, data[:n], data[n:], aad)
}

// Open returns the plaintext of a stored value. stale says the value should
// be sealed again: it is legacy plain text, or sealed under an old key.
func (k *Keyring) Open(v Sealed, aad string) (plaintext string, stale bool, err error) {
	if v == "" {
		return "", false, nil
	}
	if !v.IsSealed() {
		return string(v), true, nil
	}
	id, enc, ok := strings.Cut(strings.TrimPrefix(string(v), prefix), ":")
	if !ok {
		return "", false, errors.New("malformed sealed value")
	}
	kk, found := k.byID[id]
	if !found {
		return "", false, fmt.Errorf("key %s: %w", id, ErrUnknownKey)
	}
	data, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", false, errors.New("malformed sealed value")
	}
	p, err := kk.open(data, []byte(aad))
	if err != nil {
		// Wrong key bytes under a matching id cannot happen; a failure
		// is tampering or a value moved from another row.
		return "", false, fmt.Errorf("sealed value does not open with key %s (altered, or moved from another row)", id)
	}
	return string(p), id != k.current.id, nil
}

// ParseKey decodes a base64 key (standard or URL alphabet, padded or not).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("the key decodes to %d bytes; AES-256 needs %d (openssl rand -base64 32)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("the key is not base64 (openssl rand -base64 32 makes one)")
}

// FromEnv reads ENCRYPTION_KEY or ENCRYPTION_KEY_FILE (not both) and
// ENCRYPTION_KEYS_OLD (comma-separated base64 keys). With no key configured
// it returns ErrNoKey: the caller decides whether that is fatal.
func FromEnv() (*Keyring, error) {
	return FromLookup(os.LookupEnv)
}

// FromLookup is FromEnv over another environment.
func FromLookup(lookup func(string) (string, bool)) (*Keyring, error) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	keyText, file := get(EnvKey), get(EnvKeyFile)
	switch {
	case keyText != "" && file != "":
		return nil, fmt.Errorf("both %s and %s are set: set one", EnvKey, EnvKeyFile)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKeyFile, err)
		}
		keyText = string(b)
	case keyText == "":
		if get(EnvOldKeys) != "" {
			return nil, fmt.Errorf("%s is set but %s is not: the current key is required", EnvOldKeys, EnvKey)
		}
		return nil, ErrNoKey
	}
	cur, err := ParseKey(keyText)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvKey, err)
	}
	var old [][]byte
	for i, part := range strings.Split(get(EnvOldKeys), ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		b, err := ParseKey(part)
		if err != nil {
			return nil, fmt.Errorf("%s (key %d): %w", EnvOldKeys, i+1, err)
		}
		old = append(old, b)
	}
	return NewKeyring(cur, old...)
}

// NewKey returns a random key, base64-encoded as ENCRYPTION_KEY takes it.
func NewKey() (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// LoadOrCreateKeyFile reads the key in path, first writing a new random
// one (mode 0600) when the file does not exist. created says it was made.
func LoadOrCreateKeyFile(path string) (k *Keyring, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		text, err := NewKey()
		if err != nil {
			return nil, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, err
		}
		// O_EXCL: two processes racing to create it agree on the winner's.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(text + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, false, fmt.Errorf("write key file: %w", err)
			}
			created = true
		} else if !errors.Is(err, os.ErrExist) {
			return nil, false, fmt.Errorf("create key file: %w", err)
		}
		if b, err = os.ReadFile(path); err != nil {
			return nil, false, err
		}
	} else if err != nil {
		return nil, false, err
	}
	raw, err := ParseKey(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	k, err = NewKeyring(raw)
	return k, created, err
}

// NewRandomKeyring is a ring with one fresh random key, for tests and
// throwaway setups.
func NewRandomKeyring() (*Keyring, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return NewKeyring(b)
}
