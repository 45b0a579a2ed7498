package bench

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"time"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// runArtifacts uploads an ArtifactSize file through the artifact proxy,
// generated on the fly and streamed, downloads it again, checks size and
// checksum, and deletes it. With ServerPID it reports the server's peak
// resident memory, which should stay flat whatever the artifact size.
func runArtifacts(ctx context.Context, cfg Config, c *client) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancel()
	path := artifactPath(fmt.Sprintf("artifact-%d.bin", time.Now().UnixNano()))
	var res Result
	res.Bytes = cfg.ArtifactSize

	// Upload.
	up := crc32.New(castagnoli)
	body := io.TeeReader(newPatternReader(cfg.ArtifactSize), up)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+path, body)
	if err != nil {
		return Result{}, err
	}
	req.ContentLength = cfg.ArtifactSize
	req.Header.Set("Content-Type", "application/octet-stream")
	t0 := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("upload: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		err := readAPIError(resp)
		resp.Body.Close()
		return Result{}, fmt.Errorf("upload: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	upTime := time.Since(t0)
	defer func() {
		// Best effort: leave no gigabyte behind on the server.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer dcancel()
		if err := c.do(dctx, http.MethodDelete, path, nil, nil); err != nil {
			fmt.Fprintf(cfg.Progress, "artifacts: could not delete %s: %v\n", path, err)
		}
	}()
	hwm1, _, err := maybeMemory(cfg.ServerPID)
	if err != nil {
		return Result{}, err
	}

	// Download.
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return Result{}, err
	}
	t0 = time.Now()
	resp, err = c.hc.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return Result{}, fmt.Errorf("download: %w", readAPIError(resp))
	}
	down := crc32.New(castagnoli)
	n, err := io.Copy(down, resp.Body)
	if err != nil {
		return Result{}, fmt.Errorf("download: %w", err)
	}
	downTime := time.Since(t0)
	if n != cfg.ArtifactSize {
		return Result{}, fmt.Errorf("download: got %d bytes, uploaded %d", n, cfg.ArtifactSize)
	}
	if down.Sum32() != up.Sum32() {
		return Result{}, fmt.Errorf("download: content differs from what was uploaded (crc32c %08x, want %08x)", down.Sum32(), up.Sum32())
	}
	hwm2, rss, err := maybeMemory(cfg.ServerPID)
	if err != nil {
		return Result{}, err
	}

	res.Seconds = (upTime + downTime).Seconds()
	res.Requests = 2
	res.UploadMBs = float64(cfg.ArtifactSize) / 1e6 / upTime.Seconds()
	res.DownloadMBs = float64(cfg.ArtifactSize) / 1e6 / downTime.Seconds()
	res.PeakRSSBytes = max(hwm1, hwm2)
	res.RSSBytes = rss
	return res, nil
}

func maybeMemory(pid int) (hwm, rss int64, err error) {
	if pid <= 0 {
		return 0, 0, nil
	}
	return procMemory(pid)
}
