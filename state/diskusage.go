package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// VlogDiskUsage reports what the value-log files take on disk (allocated: the blocks the
// filesystem gave them) and their apparent size (what Size and ls show). Badger creates each
// value-log file at its full size (2 GiB by default) as a sparse file and fills it as values
// arrive, so the apparent size says little about the disk; the allocated bytes are what fills it.
// A file removed while it is read (value-log garbage collection) is left out.
func (s *Store) VlogDiskUsage() (allocated, apparent int64, err error) {
	dir := s.db.Opts().ValueDir
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, fmt.Errorf("read value-log dir %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".vlog") {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("value-log disk usage: %w", err)
		}
		apparent += fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			allocated += int64(st.Blocks) * 512 // st_blocks counts 512-byte units whatever the block size
		} else {
			allocated += fi.Size()
		}
	}
	return allocated, apparent, nil
}
