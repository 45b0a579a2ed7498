//go:build !linux

package blobstore

import "os"

// syncfs is not available here: the caller fsyncs file by file.
func (l *Local) syncfs() (bool, error) { return false, nil }

// startWriteback does nothing here.
func startWriteback(*os.File) {}
