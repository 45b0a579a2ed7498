//go:build !linux

package blobstore

import (
	"context"
	"io"

	"github.com/loopml/loopml"
)

// fastStat is not available here: the caller uses the general path.
func (l *Local) fastStat(string) (loopml.ArtifactInfo, bool, error) {
	return loopml.ArtifactInfo{}, false, nil
}

// fastPut is not available here: the caller uses the general path.
func (b *localBatch) fastPut(context.Context, string, string, []string, io.Reader) (int64, bool, error) {
	return 0, false, nil
}

// closeDirs has nothing to close here.
func (b *localBatch) closeDirs() {}
