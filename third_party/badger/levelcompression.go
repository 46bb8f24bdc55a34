/*
 * Added for safetynet (not in upstream Badger v4.9.6): see README.md.
 */

package badger

import "github.com/dgraph-io/badger/v4/options"

// compressionFor is the compression of a table written to level (0 for a memtable flush) of a
// tree of levels levels. The manifest records each table's compression, so tables written
// under other settings stay readable.
//
// The upper levels are where the tree's rewriting happens: every table of level 0 is merged
// into the level below within seconds, and each level is rewritten into the next as it fills,
// while the last level holds most of the tree and changes least. A cheap compression above the
// last level and a dense one at the last takes most of the compression's CPU off the writes
// and most of the tree's size off the disk and off the memory its mapped tables take.
//
// lastSize is the last level's size when the compaction was planned (its target, at least the
// base level's size): below DenseLastLevelFrom the last level is small, each compaction of the
// base level into it rewrites most of it, and it takes the upper levels' compression too.
func (opt *Options) compressionFor(level, levels int, lastSize int64) options.CompressionType {
	if opt.upperLevelCompressionSet && (level < levels-1 || lastSize < opt.DenseLastLevelFrom) {
		return opt.UpperLevelCompression
	}
	return opt.Compression
}
