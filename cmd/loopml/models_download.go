package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/loopml/loopml"
	"github.com/spf13/cobra"
)

// downloadTree copies the file or directory at store path src into the
// local directory dest and returns the files and bytes written.
func downloadTree(ctx context.Context, arts artifactSource, src, dest string) (files int, bytes int64, err error) {
	entries, err := arts.List(ctx, src)
	if err != nil {
		return 0, 0, err
	}
	if len(entries) == 0 { // a single file, or nothing
		n, err := downloadFile(ctx, arts, src, filepath.Join(dest, path.Base(src)))
		if loopml.ErrorCode(err) == loopml.ENOTFOUND {
			return 0, 0, loopml.Errorf(loopml.ENOTFOUND, "no artifacts at %q", src)
		}
		if err != nil {
			return 0, 0, err
		}
		return 1, n, nil
	}
	var walk func(dir, local string) error
	walk = func(dir, local string) error {
		entries, err := arts.List(ctx, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			rel := strings.TrimPrefix(e.Path, dir+"/")
			if dir == "" {
				rel = e.Path
			}
			if _, err := loopml.CleanArtifactPath(rel); err != nil || rel == "" || strings.Contains(rel, "/") {
				return loopml.Errorf(loopml.EINVALID, "artifact store listed a bad entry %q under %q", e.Path, dir)
			}
			target := filepath.Join(local, rel)
			if e.IsDir {
				if err := walk(e.Path, target); err != nil {
					return err
				}
				continue
			}
			n, err := downloadFile(ctx, arts, e.Path, target)
			if err != nil {
				return err
			}
			files++
			bytes += n
		}
		return nil
	}
	err = walk(src, dest)
	return files, bytes, err
}

// downloadFile copies one store file to the local path target.
func downloadFile(ctx context.Context, arts artifactSource, src, target string) (int64, error) {
	rc, err := arts.Open(ctx, src)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return 0, loopml.Errorf(loopml.EINVALID, "destination: %v", err)
	}
	f, err := os.Create(target)
	if err != nil {
		return 0, loopml.Errorf(loopml.EINVALID, "destination: %v", err)
	}
	n, err := io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(target)
		if loopml.ErrorCode(err) != loopml.EINTERNAL {
			return 0, err
		}
		return 0, loopml.WrapError(loopml.EUNAVAILABLE, err, "download %q to %s failed", src, target)
	}
	return n, nil
}

func newModelsDownloadCommand(getenv func(string) (string, bool)) *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "download MODEL_URI DEST",
		Short: "Download a model version's files into a local directory",
		Example: `  loopml models download models:/churn@champion ./churn-model
  loopml models download churn/3 /tmp/churn3`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := loopml.ParseModelURI(args[0])
			if err != nil {
				return err
			}
			svc, err := openServices(cmd.Context(), o, getenv, false)
			if err != nil {
				return err
			}
			defer svc.close()
			ctx := cmd.Context()
			v, err := loopml.ResolveModelURI(ctx, svc.registry, u)
			if err != nil {
				return err
			}
			src, err := loopml.ModelVersionStorePath(ctx, svc.registry, v)
			if err != nil {
				return err
			}
			files, n, err := downloadTree(ctx, svc.artifacts, src, args[1])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.output == "json" {
				return writeJSON(out, map[string]any{
					"model_uri": u.String(), "name": v.Name, "version": v.Version, "source": v.Source,
					"dest": args[1], "files": files, "bytes": n,
				})
			}
			_, err = fmt.Fprintf(out, "Downloaded %d files (%d bytes) of %s (version %s) to %s\n", files, n, u.String(), v.Version, args[1])
			return err
		},
	}
	addClientFlags(cmd, &o)
	return cmd
}
