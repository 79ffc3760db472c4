// Package secrets keeps the platforms' tokens unreadable at rest.
//
// A Keyring holds the current AES-256 key (ENCRYPTION_KEY, base64 of 32
// bytes, or ENCRYPTION_KEY_FILE) and the older keys still accepted for
// reading (ENCRYPTION_KEYS_OLD). Seal encrypts with AES-256-GCM under the
// current key; the stored value names its key ("enc:v1:<keyId>:<data>"),
// so a key can be rotated while values sealed under the old one are still
// read. A value without the prefix is legacy plain text from before
// encryption: Open returns it as it is and says it needs sealing.
//
// Every value is sealed with associated data naming where it is stored
// (table, column and row id): a sealed token copied into another tenant's
// row does not open there.
//
// Codec is the same encryption as a Temporal converter.PayloadCodec, for
// TEMPORAL_PAYLOAD_ENCRYPTION=on.
package secrets
