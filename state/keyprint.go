package state

import "fmt"

var keyPrintKey = []byte{kindMeta, '/', 'k'}

// KeyFingerprint returns the fingerprint of the pseudonymisation key the directory was built
// with (nil, false when none is stored yet). The value is the caller's; it must not reveal the
// key.
func (s *Store) KeyFingerprint() ([]byte, bool, error) {
	v, err := s.get(keyPrintKey)
	if err != nil {
		return nil, false, fmt.Errorf("read the pseudonymisation key fingerprint: %w", err)
	}
	return v, v != nil, nil
}

// SetKeyFingerprint stores the fingerprint of the pseudonymisation key.
func (s *Store) SetKeyFingerprint(fp []byte) error {
	return s.Update(func(t *Tx) error { return t.txn.Set(keyPrintKey, append([]byte(nil), fp...)) })
}
