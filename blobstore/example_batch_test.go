package blobstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/loopml/loopml"
	"github.com/loopml/loopml/blobstore"
)

// Writing many small objects: each Put is atomic and visible at once, and
// one Sync makes them all durable before anything refers to them.
func ExampleLocal_NewArtifactBatch() {
	dir, _ := os.MkdirTemp("", "batch-example")
	defer os.RemoveAll(dir)
	store, _ := blobstore.NewLocal(dir)
	defer store.Close()

	ctx := context.Background()
	b := loopml.NewArtifactBatch(store) // the store's own batch: no fsync per Put
	for i := range 3 {
		if _, err := b.Put(ctx, fmt.Sprintf("objects/%02d", i), strings.NewReader("data")); err != nil {
			fmt.Println(err)
		}
	}
	if err := b.Sync(ctx); err != nil { // now durable; record the manifest after this
		fmt.Println(err)
	}
	infos, _ := store.List(ctx, "objects")
	for _, fi := range infos {
		fmt.Println(fi.Path, fi.Size)
	}
	// Output:
	// objects/00 4
	// objects/01 4
	// objects/02 4
}
