//go:build !linux

/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

func (lf *logFile) truncateNoSync(end int64) error { return lf.MmapFile.Truncate(end) }
