//go:build !unix

package table

import "os"

// writeBuffers writes bufs to f, in order.
func writeBuffers(f *os.File, bufs [][]byte) error {
	for _, b := range bufs {
		if _, err := f.Write(b); err != nil {
			return err
		}
	}
	return nil
}
