// Package state is safetynet's Badger-backed store: household state, the offsets that state was
// built from, timers, the person→household table, remembered event ids and parked events.
//
// One database per process; every key starts with a one-byte kind and, for per-partition data,
// the partition number, so a partition's data can be scanned or dropped on its own. The package
// knows nothing of Kafka or of the risk model: values are bytes the caller encodes.
package state

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// FormatVersion is the layout version of the keys and values this build writes. A directory
// written by a newer layout is refused rather than misread.
//
//	1: household values as JSON
//	2: household values in the binary form of stream/household (version 1 values are still read)
const FormatVersion = 2

// ErrIncompatible is returned by Open for a state directory of another, newer layout.
var ErrIncompatible = errors.New("state directory has an incompatible format")

// Key kinds: the first byte of every key.
const (
	kindMeta      = 'm'
	kindOffset    = 'o'
	kindHousehold = 'h'
	kindTimer     = 't'
	kindPerson    = 'p'
	kindSeen      = 'd'
	kindSeenBlock = 'D'
	kindParked    = 'k'
	kindAlert     = 'a'
)

var versionKey = []byte{kindMeta, '/', 'v'}

const (
	// valueThreshold: values this long or longer go to the value log and the LSM tree keeps a
	// pointer. A household with history (about 700 B after the benchmark's 1,000,000 events) is
	// rewritten on every change: in the tree, compactions rewrote it again and again and every
	// read decompressed a whole block, and those allocations drove the collector (service CPU
	// per million events: 114.8 s at 1 KiB, 61.8 s at 512 B; docs/performance.md). Below
	// 320 B stay registry-only households (about 280 B), person rows, seen-event marks and
	// index entries: compressed in the tree they take 326 B per household, against 915 B with
	// a 128 B threshold (uncompressed in the value log). 320 and not 512 since the alert index
	// compresses with a dictionary (about 380 B an alert): at 512 the alerts and the households
	// with a little history went through every compaction, 10% of the service's CPU in the
	// throughput run (the seventeenth round).
	valueThreshold = 320
	// valueLogFileSize: value-log collection rewrites whole files other than the one being
	// written, so a file is kept small enough for a state of a few hundred MiB to span several.
	valueLogFileSize = 64 << 20
	// baseTableSize is the size of the tables compactions write, at every level (Badger's
	// TableSizeMultiplier 1; its default 2 doubles the size per level below the base). A
	// compaction's table builder starts with a buffer of twice its table's size, and a
	// compaction runs up to 13 builders at once: with the default, the builders of the
	// deepest level (32 MiB tables) held 200 MB of the heap while 1,000,000 households were
	// loaded (docs/performance.md).
	baseTableSize = 2 << 20
	// zstdLevel: the tables are compressed with ZSTD at its fastest level. Badger writes its
	// tables through memory maps and keeps them mapped, so the tree's size is resident memory
	// as well as disk: with ZSTD the tree of 1,000,000 registry-only households is 200 MB,
	// against 294 MB with Snappy. Households with history are in the value log, which is not
	// compressed, so the cost of ZSTD falls on small values (docs/performance.md). Only the last
	// level, which holds most of the tree, is ZSTD: the levels above it, rewritten every few
	// seconds under load, are Snappy (third_party/badger/README.md). Encoding them with ZSTD was
	// 8% of the service's CPU in the throughput run, for a few percent of the tree's size.
	zstdLevel = 1
	// denseLastLevelFrom: the last level is ZSTD only once it holds this much, Snappy before
	// (third_party/badger/README.md). A small last level is not the part of the tree that
	// changes least: the throughput benchmark's is 33 MB under a base level of 10 MB, and every
	// compaction of the base level into it rewrote most of it in ZSTD, 4.9% of the service's
	// CPU. With the threshold, 28.9–30.0 CPU s per million events against 31.7–33.2 in three
	// alternated pairs; the 200 MB last level of 1,000,000 households is still ZSTD
	// (docs/performance.md, sixteenth round).
	denseLastLevelFrom = 64 << 20
	// compactionPace is the share of one core Badger's compactions and memtable flushes take
	// together while the tree keeps up with the writes (third_party/badger/README.md). Unpaced,
	// a flush and the level-0 compaction after it took both cores for one to two seconds about
	// every ten at 10,000 events/s, and the event-to-alert p99 was 170–430 ms; paced at 0.3 it
	// was 67–129 ms (0.15 and 0.5 gave 60–69 ms), the throughput run and the load of 1,000,000
	// households no slower; that load's peak RSS is about 30 MiB higher, a paced flush holding
	// its memtable and builders longer (docs/performance.md, ninth round).
	compactionPace = 0.3
	// compactDiscardRatio: Compact rewrites a value-log file once this share of it is stale.
	compactDiscardRatio = 0.3
)

// Options configure the store. Zero values take the defaults noted.
type Options struct {
	Dir string
	// EncryptionKey, when set (16, 24 or 32 bytes), encrypts the data at rest (AES).
	EncryptionKey []byte
	// MemTableSize in bytes (default 16 MiB); Badger's default of 64 MiB times five tables is
	// far more than a household store needs.
	MemTableSize int64
	// BlockCacheSize in bytes (default 32 MiB).
	BlockCacheSize int64
	// IndexCacheSize in bytes (default 16 MiB; 0 keeps the default, needed with encryption).
	IndexCacheSize int64
	// SyncWrites fsyncs every commit: survives a power cut, not only a process crash. Slow.
	SyncWrites bool
	// ReadOnly opens the directory without writing (for `state dump`).
	ReadOnly bool
	Logger   *slog.Logger
}

// Store is the state database. It is safe for concurrent use.
type Store struct {
	db       *badger.DB
	logger   *slog.Logger
	readOnly bool
}

// Open opens (or creates) the store in opts.Dir. It refuses a directory written by a newer
// format, and one it cannot read, without changing anything in it.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open state: no directory given")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir %s: %w", opts.Dir, err)
	}
	if err := checkMarker(opts.Dir); err != nil {
		return nil, err
	}
	bo := badger.DefaultOptions(opts.Dir).
		WithLogger(badgerLogger{logger}).
		WithSyncWrites(opts.SyncWrites).
		WithMemTableSize(orDefault(opts.MemTableSize, 16<<20)).
		WithBlockCacheSize(orDefault(opts.BlockCacheSize, 32<<20)).
		WithIndexCacheSize(orDefault(opts.IndexCacheSize, 16<<20)).
		WithNumMemtables(3).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		WithNumCompactors(2).
		WithCompactionPace(compactionPace).
		WithBaseTableSize(baseTableSize).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(valueLogFileSize).
		WithCompression(options.ZSTD).
		WithUpperLevelCompression(options.Snappy).
		WithDenseLastLevelFrom(denseLastLevelFrom).
		// Badger's own counters are expvars nothing serves, and a point read updated two of
		// them per level it searched (a map look-up each); the store's metrics are ours
		// (metrics.go).
		WithMetricsEnabled(false).
		WithZSTDCompressionLevel(zstdLevel).
		WithReadOnly(opts.ReadOnly)
	bo.TableSizeMultiplier = 1 // every level's tables baseTableSize (no With method)
	if len(opts.EncryptionKey) > 0 {
		bo = bo.WithEncryptionKey(opts.EncryptionKey).WithEncryptionKeyRotationDuration(30 * 24 * time.Hour)
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "MANIFEST")); err == nil && !opts.ReadOnly {
		// An existing directory is checked read-only first: a writable open already rewrites
		// value-log files before the version key can be read, and would touch a directory of
		// a newer format or a damaged one.
		// After a crash the memtable log needs truncating, which a read-only open cannot do:
		// that is ordinary recovery (the marker was checked above), so the writable open runs.
		ro, err := badger.Open(bo.WithReadOnly(true))
		switch {
		case err != nil && (errors.Is(err, badger.ErrTruncateNeeded) || strings.Contains(err.Error(), badger.ErrTruncateNeeded.Error())):
			// (badger wraps it without Unwrap)
		case err != nil:
			return nil, fmt.Errorf("open state dir %s: %w (nothing was changed in it)", opts.Dir, err)
		default:
			err = (&Store{db: ro, logger: logger, readOnly: true}).checkVersion(true)
			if cerr := ro.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("open state dir %s: %w", opts.Dir, cerr)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open state dir %s: %w", opts.Dir, err)
	}
	s := &Store{db: db, logger: logger, readOnly: opts.ReadOnly}
	if err := s.checkVersion(opts.ReadOnly); err != nil {
		_ = db.Close()
		return nil, err
	}
	if !opts.ReadOnly {
		if err := writeMarker(opts.Dir); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return s, nil
}

// markerFile records the format outside Badger, so that a newer layout is refused even when
// Badger itself could not open the directory.
const markerFile = "SAFETYNET_FORMAT"

func checkMarker(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, markerFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", markerFile, err)
	}
	var v int
	if _, err := fmt.Sscanf(string(b), "%d", &v); err != nil {
		return fmt.Errorf("%w: %s in %s is %q, not a version number; was this directory written by safetynet?", ErrIncompatible, markerFile, dir, b)
	}
	if v > FormatVersion {
		return fmt.Errorf("%w: %s is format %d, this build reads up to %d; run a newer safetynet or point SAFETYNET_STATE_DIR elsewhere", ErrIncompatible, dir, v, FormatVersion)
	}
	return nil
}

func writeMarker(dir string) error {
	p := filepath.Join(dir, markerFile)
	if err := os.WriteFile(p, fmt.Appendf(nil, "%d\n", FormatVersion), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

func (s *Store) checkVersion(readOnly bool) error {
	v, err := s.get(versionKey)
	if err != nil {
		return fmt.Errorf("read state format: %w", err)
	}
	if v != nil && len(v) != 8 {
		return fmt.Errorf("read state format: %w: version value of %d bytes", ErrIncompatible, len(v))
	}
	found := v != nil
	var have uint64
	if found {
		have = binary.BigEndian.Uint64(v)
	}
	if found && have > FormatVersion {
		return fmt.Errorf("%w: format %d, this build reads up to %d", ErrIncompatible, have, FormatVersion)
	}
	if found || readOnly {
		return nil
	}
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(versionKey, binary.BigEndian.AppendUint64(nil, FormatVersion))
	})
}

// Close flushes and closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state: %w", err)
	}
	return nil
}

// LSMSize reports the size in bytes of the LSM tree's tables (VlogDiskUsage the value log's).
// Badger's own Size reads counters that its metrics, disabled here, no longer keep.
func (s *Store) LSMSize() (lsm int64) {
	for _, l := range s.db.Levels() {
		lsm += l.Size
	}
	return lsm
}

// RunGC runs value-log garbage collection every interval until ctx ends; Badger never runs it
// by itself. It calls onRun after each pass that rewrote a file.
func (s *Store) RunGC(ctx context.Context, interval time.Duration, onRun func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for ctx.Err() == nil {
			if err := s.db.RunValueLogGC(0.5); err != nil {
				break // ErrNoRewrite: nothing more to collect this round
			}
			if onRun != nil {
				onRun()
			}
		}
	}
}

// Compact compacts the whole tree into one level and then rewrites every value-log file whose
// values are mostly stale, until none is left to rewrite: what the service's periodic value-log
// collection and Badger's compactions reach in time, at once. For a store no one else writes
// (the benchmark's size measure). Flatten does nothing when every table is in one level, so
// versions superseded inside that level stay until Badger compacts it.
func (s *Store) Compact() error {
	if s.readOnly {
		return errors.New("compact state: the store is open read-only")
	}
	if err := s.db.Flatten(2); err != nil {
		return fmt.Errorf("compact state: %w", err)
	}
	for {
		err := s.db.RunValueLogGC(compactDiscardRatio)
		if errors.Is(err, badger.ErrNoRewrite) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("compact state: value-log collection: %w", err)
		}
	}
}

func orDefault(v, d int64) int64 {
	if v > 0 {
		return v
	}
	return d
}

// badgerLogger routes Badger's own messages to slog, dropping its chatty info and debug lines.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Infof(string, ...any)        {}
func (b badgerLogger) Debugf(string, ...any)       {}
