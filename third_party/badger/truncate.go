/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

// truncate cuts the file to end bytes and its mapping with it. The released code
// (z.MmapFile.Truncate) first msyncs the whole mapping, twice the value-log file size: a
// value-log file that fills is truncated on the write path, holding every commit (and, under
// the file's lock, every read of it) while the kernel writes the file back, 20–45 ms for
// safetynet's 64 MiB files. Without SyncWrites no commit waits for the disk anyway, and the
// kernel writes the pages back as it does every other write's; the msync is kept only with
// SyncWrites.
func (lf *logFile) truncate(end int64) error {
	if lf.opt.SyncWrites {
		return lf.MmapFile.Truncate(end)
	}
	return lf.truncateNoSync(end)
}
