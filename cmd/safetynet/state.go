package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"

	"safetynet/internal/app"
	"safetynet/internal/cli"
	"safetynet/state"
	"safetynet/stream/household"
)

// stateDumpCmd prints every household, one JSON line each in id order, from a state directory
// (read-only) or, with -from-changelog, from the changelog topic. Badger lets one process at a
// time open a directory, so a running instance's directory cannot be read: its households are
// on the changelog, and the error says so.
func stateDumpCmd(c *cli.Call) error {
	fs := c.Flags()
	def := os.Getenv(app.EnvPrefix + "STATE_DIR")
	if def == "" {
		def = "data/state"
	}
	dir := fs.String("dir", def, "state directory (default $SAFETYNET_STATE_DIR, else data/state); $SAFETYNET_STATE_ENCRYPTION_KEY decrypts it")
	fromChangelog := fs.Bool("from-changelog", false, "read every household's newest state from the changelog topic ($SAFETYNET_TOPIC_CHANGELOG) instead of a directory: works while the instances run")
	brokers := fs.String("brokers", "", "bootstrap brokers for -from-changelog (default $SAFETYNET_KAFKA_BROKERS)")
	if err := c.Parse(fs, 0, 0); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case *fromChangelog && set["dir"]:
		return c.BadFlag("give either -dir DIR or -from-changelog")
	case !*fromChangelog && set["brokers"]:
		return c.BadFlag("-brokers goes with -from-changelog")
	}

	w := bufio.NewWriter(c.Stdout)
	defer w.Flush()
	dump := func(_ string, v []byte) error {
		js, err := household.CanonicalJSON(v)
		if err != nil {
			return err
		}
		w.Write(js)
		return w.WriteByte('\n')
	}
	if *fromChangelog {
		cl, err := loadChangelog(c, *brokers, c.Stderr)
		if err != nil {
			return err
		}
		return cl.Households(dump)
	}

	if _, err := os.Stat(*dir); err != nil {
		return fmt.Errorf("state dump: %w", err)
	}
	key, err := stateKey()
	if err != nil {
		return err
	}
	store, err := state.Open(state.Options{Dir: *dir, ReadOnly: true, EncryptionKey: key})
	if err != nil {
		if strings.Contains(err.Error(), "directory lock") {
			return fmt.Errorf("state dump: %s is in use by a running safetynet (one process per state directory): dump the live state with -from-changelog -brokers HOST:PORT instead, or stop that instance, or dump a copy restored from a backup: %w", *dir, err)
		}
		return err
	}
	defer store.Close()
	return store.Households(dump)
}
