package cas

import (
	"encoding/hex"
	"strings"

	"github.com/loopml/loopml"
	"github.com/zeebo/blake3"
)

// DigestPrefix starts the printed form of a Digest.
const DigestPrefix = "blake3:"

// ObjectsDir is the artifact-store directory that holds all objects.
const ObjectsDir = "cas/objects"

// Digest is a BLAKE3-256 digest. The zero Digest is not the digest of
// anything this package stores and marks "no digest".
type Digest [32]byte

// Sum returns the digest of b.
func Sum(b []byte) Digest { return Digest(blake3.Sum256(b)) }

// String returns "blake3:" followed by 64 lowercase hex digits.
func (d Digest) String() string { return DigestPrefix + hex.EncodeToString(d[:]) }

// IsZero reports whether d is the zero Digest.
func (d Digest) IsZero() bool { return d == Digest{} }

// Hex returns the 64 lowercase hex digits of d.
func (d Digest) Hex() string { return hex.EncodeToString(d[:]) }

// ObjectPath returns the artifact-store path of the object named d:
// cas/objects/<2 hex>/<64 hex>.
func (d Digest) ObjectPath() string {
	h := d.Hex()
	return ObjectsDir + "/" + h[:2] + "/" + h
}

// MarshalText implements encoding.TextMarshaler with the String form.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts only the
// canonical String form.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// ParseDigest parses "blake3:<64 lowercase hex digits>". Anything else,
// including upper-case hex, gives EINVALID.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	h, ok := strings.CutPrefix(s, DigestPrefix)
	if !ok || len(h) != 64 {
		return d, loopml.Errorf(loopml.EINVALID, "invalid digest %q: want %s followed by 64 hex digits", s, DigestPrefix)
	}
	for _, c := range []byte(h) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return d, loopml.Errorf(loopml.EINVALID, "invalid digest %q: want lowercase hex digits", s)
		}
	}
	_, _ = hex.Decode(d[:], []byte(h)) // validated above
	return d, nil
}
