package secrets

import (
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Payload metadata of an encrypted payload.
const (
	// PayloadEncoding is the "encoding" of an encrypted payload.
	PayloadEncoding = "binary/encrypted"
	// PayloadKeyIDKey names the key a payload was sealed under.
	PayloadKeyIDKey = "encryption-key-id"
)

// payloadAAD binds a sealed payload to its use: a sealed token from the
// database is no payload, and the other way round.
var payloadAAD = []byte("crowdflow temporal payload v1")

// Codec encrypts Temporal payloads with the ring's current key (the whole
// payload, metadata included, so even its encoding is hidden) and decrypts
// those sealed under any key of the ring. Payloads that are not encrypted
// pass through Decode unchanged: history written before encryption was
// switched on stays readable.
type Codec struct{ ring *Keyring }

// NewCodec returns the payload codec of a key ring.
func NewCodec(k *Keyring) *Codec { return &Codec{ring: k} }

var _ converter.PayloadCodec = (*Codec)(nil)

// Encode seals each payload.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, err
		}
		data, err := c.ring.current.seal(plain, payloadAAD)
		if err != nil {
			return payloads, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(PayloadEncoding),
				PayloadKeyIDKey:            []byte(c.ring.current.id),
			},
			Data: data,
		}
	}
	return out, nil
}

// Decode opens each encrypted payload.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != PayloadEncoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[PayloadKeyIDKey])
		k, ok := c.ring.byID[id]
		if !ok {
			return payloads, fmt.Errorf("payload key %s: %w", id, ErrUnknownKey)
		}
		plain, err := k.open(p.GetData(), payloadAAD)
		if err != nil {
			return payloads, fmt.Errorf("payload sealed with key %s does not open: %w", id, err)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return payloads, fmt.Errorf("decrypted payload: %w", err)
		}
		out[i] = &dec
	}
	return out, nil
}
