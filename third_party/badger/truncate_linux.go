/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// truncateNoSync is z.MmapFile.Truncate without its msync: the file cut, then its mapping
// shrunk in place by the mremap system call itself, as ristretto does (not unix.Mremap, whose
// table of mappings ristretto's own mremap and munmap bypass).
func (lf *logFile) truncateNoSync(end int64) error {
	if err := lf.Fd.Truncate(end); err != nil {
		return fmt.Errorf("while truncate file: %s, error: %v", lf.Fd.Name(), err)
	}
	if len(lf.Data) == 0 || end <= 0 {
		return lf.MmapFile.Truncate(end) // nothing mapped to shrink: ristretto's own path
	}
	p, err := unix.MremapPtr(unsafe.Pointer(&lf.Data[0]), uintptr(len(lf.Data)), nil, uintptr(end), unix.MREMAP_MAYMOVE)
	if err != nil {
		return fmt.Errorf("while mremap file: %s, error: %v", lf.Fd.Name(), err)
	}
	lf.Data = unsafe.Slice((*byte)(p), int(end))
	return nil
}
