package feed

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
)

// MinPseudonymKeyBytes is the fewest random bytes a pseudonymisation key holds: it is given as
// at least 2×32 hex digits.
const MinPseudonymKeyBytes = 32

// PersonKeyHexLen is the length of a person key: the first 128 bits of the HMAC, in hex.
const PersonKeyHexLen = 32

// Pseudonymizer turns resident ID numbers into person keys (keyed HMAC-SHA256) and masked display
// forms. Without the key a person key cannot be linked back to an ID number, nor computed from one.
type Pseudonymizer struct {
	key  []byte
	aead cipher.AEAD // seals original records held in the state store
	macs sync.Pool   // of *keyer: HMAC-SHA256 under key, reset (Key makes one per event)
}

const keyAdvice = "set SAFETYNET_PSEUDONYM_KEY to 32 random bytes in hex, e.g. from `openssl rand -hex 32`"

// CheckPseudonymKey refuses a key that is not at least 64 hex digits (32 random bytes) or that
// looks like a placeholder: a pattern that repeats within 16 digits, or fewer than 8 distinct
// digits (a random key of 64 digits has about 16).
func CheckPseudonymKey(key []byte) error {
	if len(key) < 2*MinPseudonymKeyBytes {
		return fmt.Errorf("pseudonymisation key is %d characters; it must be at least %d hex digits (%s)", len(key), 2*MinPseudonymKeyBytes, keyAdvice)
	}
	distinct := map[byte]bool{}
	for i, c := range key {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return fmt.Errorf("pseudonymisation key: character %d is not a hex digit (%s)", i+1, keyAdvice)
		}
		distinct[c|0x20] = true
	}
	for period := 1; period <= 16; period++ {
		if bytes.Equal(bytes.ToLower(key[period:]), bytes.ToLower(key[:len(key)-period])) {
			return fmt.Errorf("pseudonymisation key repeats every %d digits: a placeholder, not a random key (%s)", period, keyAdvice)
		}
	}
	if len(distinct) < 8 {
		return fmt.Errorf("pseudonymisation key uses %d distinct hex digits: a placeholder, not a random key (%s)", len(distinct), keyAdvice)
	}
	return nil
}

// NewPseudonymizer returns a Pseudonymizer for key: the hex text of at least 32 random bytes
// (CheckPseudonymKey). The text itself is the HMAC key, as it always was, so that the person
// keys of existing state stay the same. Changing the key changes every person key: the state
// built with the old key no longer matches, and CheckKeyFingerprint refuses to start on it.
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if err := CheckPseudonymKey(key); err != nil {
		return nil, err
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
	k, _ := p.macs.Get().(*keyer)
	if k == nil {
		k = &keyer{mac: hmac.New(sha256.New, p.key)}
	}
	// The input and the sum go through buffers of the pooled keyer: a slice passed to the hash's
	// methods would escape to the heap on every call.
	k.buf = append(append(k.buf[:0], personLabel...), id...)
	k.mac.Write(k.buf)
	k.buf = k.mac.Sum(k.buf[:0])
	var out [PersonKeyHexLen]byte
	hex.Encode(out[:], k.buf[:PersonKeyHexLen/2])
	k.mac.Reset()
	p.macs.Put(k)
	return string(out[:])
}

// keyer is a reusable HMAC under the pseudonymisation key, with a scratch buffer.
type keyer struct {
	mac hash.Hash
	buf []byte
}

var personLabel = []byte("person:")

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
	if a := ev.Application; a != nil && a.Declared != nil {
		app, decl := *a, *a.Declared
		decl.Members = make([]DeclaredMember, len(a.Declared.Members))
		for i, m := range a.Declared.Members {
			if i < len(r.memberIDs) {
				m.PersonKey, m.PersonMasked = p.Key(r.memberIDs[i]), Mask(r.memberIDs[i])
			}
			decl.Members[i] = m
		}
		app.Declared = &decl
		ev.Application = &app
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
	if len(id) == 18 { // a resident ID number: built on the stack, one allocation
		var b [18]byte
		copy(b[:6], id)
		for i := 6; i < 17; i++ {
			b[i] = '*'
		}
		b[17] = id[17]
		return string(b[:])
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

// Fingerprint identifies the key without revealing it: an HMAC of a fixed label under the key.
func (p *Pseudonymizer) Fingerprint() []byte {
	mac := hmac.New(sha256.New, p.key)
	mac.Write([]byte("safetynet pseudonymisation key fingerprint v1"))
	return mac.Sum(nil)
}

// FingerprintStore keeps the fingerprint of the key a state directory was built with
// (*state.Store).
type FingerprintStore interface {
	KeyFingerprint() ([]byte, bool, error)
	SetKeyFingerprint([]byte) error
}

// ErrKeyChanged is returned by CheckKeyFingerprint when the state was built with another key.
var ErrKeyChanged = errors.New("the pseudonymisation key is not the one this state directory was built with")

// CheckKeyFingerprint is called at start-up: it stores the key's fingerprint in a state
// directory that has none, and refuses one built with another key (every person key would
// differ, and households would silently split in two).
func CheckKeyFingerprint(s FingerprintStore, p *Pseudonymizer) error {
	fp, ok, err := s.KeyFingerprint()
	if err != nil {
		return err
	}
	if !ok {
		return s.SetKeyFingerprint(p.Fingerprint())
	}
	if !hmac.Equal(fp, p.Fingerprint()) {
		return fmt.Errorf("%w: set SAFETYNET_PSEUDONYM_KEY back to the key it was built with; to change the key on purpose, start on an empty state directory (SAFETYNET_STATE_DIR) and replay the feeds from the beginning", ErrKeyChanged)
	}
	return nil
}
