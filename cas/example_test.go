package cas_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loopml/loopml/blobstore"
	"github.com/loopml/loopml/cas"
)

// Example stores two versions of a small dataset and compares them. The
// root digests are stable: they depend only on the files' names, modes and
// contents.
func Example() {
	ctx := context.Background()
	tmp, _ := os.MkdirTemp("", "cas-example")
	defer os.RemoveAll(tmp)
	store, _ := blobstore.NewLocal(filepath.Join(tmp, "artifacts"))
	defer store.Close()

	data := filepath.Join(tmp, "data")
	write := func(p, content string) { // modes set explicitly: they are part of the digest
		p = filepath.Join(data, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.Chmod(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
		os.Chmod(p, 0o644)
	}
	write("train/a.csv", "x,y\n1,2\n")
	write("labels.txt", "cat\ndog\n")

	v1, st, err := cas.Add(ctx, store, []string{data}, cas.AddOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("v1", v1.Root, st.Files, "files,", st.ObjectsUploaded, "objects")

	write("train/b.csv", "x,y\n3,4\n")
	v2, st, _ := cas.Add(ctx, store, []string{data}, cas.AddOptions{})
	fmt.Println("v2", v2.Root, st.ObjectsUploaded, "new objects,", st.ObjectsSkipped, "already stored")
	fmt.Printf("%+v\n", cas.DiffManifests(v1, v2))
	fmt.Println(cas.Verify(ctx, store, v2))
	// Output:
	// v1 blake3:1cb5a7e36d5efd260a39513bcc45a44c4d34da066241bcc6337f0b8e7c1e15fc 2 files, 4 objects
	// v2 blake3:66b359f4c567c9b88e5c4e212de2a40723c0c56e0e6954dac57df30db5a87aca 3 new objects, 2 already stored
	// {Added:[train/b.csv] Removed:[] Changed:[]}
	// <nil>
}
