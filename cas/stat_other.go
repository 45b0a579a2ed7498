//go:build !unix

package cas

import "io/fs"

// inode returns zeros: this platform does not report inode numbers, so the
// index relies on size and modification time.
func inode(fs.FileInfo) (ino, dev uint64) { return 0, 0 }
