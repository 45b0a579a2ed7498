package blobstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncfs flushes the whole filesystem holding the store with syncfs(2),
// which reports writeback errors since Linux 5.8. It returns false if the
// call is not available, so that the caller fsyncs file by file.
func (l *Local) syncfs() (bool, error) {
	f, err := l.root.Open(".")
	if err != nil {
		return true, err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		if err == unix.ENOSYS {
			return false, nil
		}
		return true, os.NewSyscallError("syncfs", err)
	}
	return true, nil
}

// startWriteback asks the kernel to start writing f's dirty pages to disk
// without waiting for them (sync_file_range with SYNC_FILE_RANGE_WRITE);
// errors are ignored: Sync reports them.
func startWriteback(f *os.File) {
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}
