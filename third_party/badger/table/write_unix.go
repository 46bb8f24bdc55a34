//go:build unix

package table

import (
	"os"

	"golang.org/x/sys/unix"
)

// writeBuffers writes bufs to f, in order, with as few writev(2) calls as the kernel allows
// (IOV_MAX buffers each), resuming after a short write. It consumes bufs' elements.
func writeBuffers(f *os.File, bufs [][]byte) error {
	const iovMax = 1024
	fd := int(f.Fd())
	for len(bufs) > 0 {
		n, err := unix.Writev(fd, bufs[:min(len(bufs), iovMax)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "writev", Path: f.Name(), Err: err}
		}
		// Drop what was written (and any empty buffers, which a call of only those leaves).
		for len(bufs) > 0 && n >= len(bufs[0]) {
			n -= len(bufs[0])
			bufs = bufs[1:]
		}
		if n > 0 {
			bufs[0] = bufs[0][n:]
		}
	}
	return nil
}
