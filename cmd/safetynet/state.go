package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"safetynet/internal/app"
	"safetynet/state"
	"safetynet/stream/household"
)

// stateDumpCmd prints every household of a state directory without changing it. Badger lets one
// process at a time open a directory, so the directory of a running instance cannot be read:
// stop the instance (or restore a backup elsewhere) first; the error says so.
func stateDumpCmd(c *call) error {
	fs := c.flags()
	def := os.Getenv(app.EnvPrefix + "STATE_DIR")
	if def == "" {
		def = "data/state"
	}
	dir := fs.String("dir", def, "state directory (default $SAFETYNET_STATE_DIR, else data/state); $SAFETYNET_STATE_ENCRYPTION_KEY decrypts it")
	if err := c.parse(fs, 0, 0); err != nil {
		return err
	}
	if _, err := os.Stat(*dir); err != nil {
		return fmt.Errorf("state dump: %w", err)
	}
	var key []byte
	if k := os.Getenv(app.EnvPrefix + "STATE_ENCRYPTION_KEY"); k != "" {
		var err error
		if key, err = hex.DecodeString(k); err != nil {
			return fmt.Errorf("%sSTATE_ENCRYPTION_KEY: not hex: %w", app.EnvPrefix, err)
		}
	}
	store, err := state.Open(state.Options{Dir: *dir, ReadOnly: true, EncryptionKey: key})
	if err != nil {
		if strings.Contains(err.Error(), "directory lock") {
			return fmt.Errorf("state dump: %s is in use by a running safetynet (one process per state directory): stop that instance first, or dump a copy restored from a backup: %w", *dir, err)
		}
		return err
	}
	defer store.Close()
	w := bufio.NewWriter(c.stdout)
	defer w.Flush()
	return store.Households(func(_ string, v []byte) error {
		js, err := household.CanonicalJSON(v)
		if err != nil {
			return err
		}
		w.Write(js)
		return w.WriteByte('\n')
	})
}
