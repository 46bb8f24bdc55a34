//go:build unix

package table

import (
	"os"

	"golang.org/x/sys/unix"
)

// writeBuffers writes bufs to f, in order, with as few writev(2) calls as the kernel allows
// (IOV_MAX buffers each), resuming after a short write.
func writeBuffers(f *os.File, bufs [][]byte) error {
	const iovMax = 1024
	nonEmpty := bufs[:0:0]
	for _, b := range bufs {
		if len(b) > 0 {
			nonEmpty = append(nonEmpty, b)
		}
	}
	bufs = nonEmpty
	fd := int(f.Fd())
	for len(bufs) > 0 {
		n, err := unix.Writev(fd, bufs[:min(len(bufs), iovMax)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "writev", Path: f.Name(), Err: err}
		}
		for n > 0 {
			if n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs = bufs[1:]
				continue
			}
			bufs[0] = bufs[0][n:]
			n = 0
		}
	}
	return nil
}
