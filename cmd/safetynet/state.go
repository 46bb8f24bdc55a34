package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"

	"safetynet/state"
	"safetynet/stream/household"
)

// stateCmd inspects a state directory without changing it.
func stateCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "dump" {
		fmt.Fprintln(stderr, "usage: safetynet state dump [-dir DIR]")
		return errUsage
	}
	fs := flag.NewFlagSet("state dump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv(envPrefix + "STATE_DIR")
	if def == "" {
		def = "data/state"
	}
	dir := fs.String("dir", def, "state directory (default $SAFETYNET_STATE_DIR)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if _, err := os.Stat(*dir); err != nil {
		return fmt.Errorf("state dump: %w", err)
	}
	var key []byte
	if k := os.Getenv(envPrefix + "STATE_ENCRYPTION_KEY"); k != "" {
		var err error
		if key, err = hex.DecodeString(k); err != nil {
			return fmt.Errorf("%sSTATE_ENCRYPTION_KEY: not hex: %w", envPrefix, err)
		}
	}
	store, err := state.Open(state.Options{Dir: *dir, ReadOnly: true, EncryptionKey: key})
	if err != nil {
		return err
	}
	defer store.Close()
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	return store.Households(func(_ string, v []byte) error {
		c, err := household.CanonicalJSON(v)
		if err != nil {
			return err
		}
		w.Write(c)
		return w.WriteByte('\n')
	})
}
