//go:build unix

package cas

import (
	"io/fs"
	"syscall"
)

// inode returns the inode and device numbers of fi, or zeros when the
// platform does not report them.
func inode(fi fs.FileInfo) (ino, dev uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino), uint64(st.Dev) //nolint:unconvert // types differ across platforms
	}
	return 0, 0
}
