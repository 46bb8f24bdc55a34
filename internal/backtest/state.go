package backtest

import (
	"fmt"
	"os"
	"strings"

	"safetynet/state"
)

// OpenState opens a state directory read-only as a Source, and returns it with its close
// function. A directory a running safetynet holds is refused with what to do instead.
func OpenState(dir string, encryptionKey []byte) (Source, func(), error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("-state: %w", err)
	}
	st, err := state.Open(state.Options{Dir: dir, ReadOnly: true, EncryptionKey: encryptionKey})
	if err != nil {
		if strings.Contains(err.Error(), "directory lock") {
			return nil, nil, fmt.Errorf("-state %s is in use by a running safetynet (one process per state directory): read the live state with -from-changelog -brokers HOST:PORT instead, or a copy restored from a backup: %w", dir, err)
		}
		return nil, nil, err
	}
	return st, func() { st.Close() }, nil
}
