package feed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MinPseudonymKeyBytes is the shortest pseudonymisation key accepted.
const MinPseudonymKeyBytes = 16

// PersonKeyHexLen is the length of a person key: the first 128 bits of the HMAC, in hex.
const PersonKeyHexLen = 32

// Pseudonymizer turns resident ID numbers into person keys (keyed HMAC-SHA256) and masked display
// forms. Without the key a person key cannot be linked back to an ID number, nor computed from one.
type Pseudonymizer struct {
	key  []byte
	aead cipher.AEAD // seals original records held in the state store
}

// NewPseudonymizer returns a Pseudonymizer for key, which must be at least 16 bytes (use 32
// random bytes). Changing the key changes every person key: the state built with the old key no
// longer matches.
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < MinPseudonymKeyBytes {
		return nil, fmt.Errorf("pseudonymisation key is %d bytes; it must be at least %d (set SAFETYNET_PSEUDONYM_KEY to 32 random bytes, e.g. from `openssl rand -hex 32`)", len(key), MinPseudonymKeyBytes)
	}
	k := append([]byte(nil), key...)
	// A separate key for sealing, derived so that neither use reveals the other.
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte("safetynet seal v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("seal cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal cipher: %w", err)
	}
	return &Pseudonymizer{key: k, aead: aead}, nil
}

// Key returns the person key of a (valid, normalised) resident ID number.
func (p *Pseudonymizer) Key(id string) string {
	mac := hmac.New(sha256.New, p.key)
	mac.Write([]byte("person:"))
	mac.Write([]byte(id))
	return hex.EncodeToString(mac.Sum(nil))[:PersonKeyHexLen]
}

// Apply completes a decoded event with its person key and masked ID: the canonical event, which
// carries no resident ID number.
func (p *Pseudonymizer) Apply(r RawEvent) HouseholdEvent {
	ev := r.Event
	ev.PersonKey = p.Key(r.personID)
	ev.PersonMasked = Mask(r.personID)
	if ev.BirthDate != nil {
		bm := BirthMonth(*ev.BirthDate)
		ev.BirthDate = &bm
	}
	return ev
}

// BirthMonth is the only birth information kept past intake: the first day of the birth month
// (UTC). The exact date is positions 7–14 of the ID number; kept beside the masked form it
// would give most of the hidden digits back (docs/feeds.md, "What is kept of a person").
func BirthMonth(t time.Time) time.Time {
	y, m, _ := t.Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// Mask returns the display form of an ID number: the first 6 characters (the county of
// registration) and the check character, the rest starred ("420106***********4"). The birth
// date and sequence number stay hidden, so that with the birth month and sex that outputs show
// beside it, over a thousand valid ID numbers remain possible. Strings too short to mask that
// way are starred whole.
func Mask(id string) string {
	if len(id) < 12 {
		return strings.Repeat("*", len(id))
	}
	return id[:6] + strings.Repeat("*", len(id)-7) + id[len(id)-1:]
}

// Seal encrypts b for storage; Open reverses it.
func (p *Pseudonymizer) Seal(b []byte) []byte {
	nonce := make([]byte, p.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return p.aead.Seal(nonce, nonce, b, nil)
}

var errUnsealable = errors.New("sealed record does not open with this pseudonymisation key")

func (p *Pseudonymizer) Open(b []byte) ([]byte, error) {
	n := p.aead.NonceSize()
	if len(b) < n {
		return nil, errUnsealable
	}
	out, err := p.aead.Open(nil, b[:n], b[n:], nil)
	if err != nil {
		return nil, errUnsealable
	}
	return out, nil
}
