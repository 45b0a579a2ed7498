package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procWriteBytes returns write_bytes from /proc/PID/io: the bytes the
// process caused to be sent to the storage layer.
func procWriteBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, fmt.Errorf("server-pid %d: %w", pid, err)
	}
	return parseProcField(b, "write_bytes:", 1)
}

// procMemory returns VmHWM (peak resident set) and VmRSS from
// /proc/PID/status, in bytes.
func procMemory(pid int) (hwm, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("server-pid %d: %w", pid, err)
	}
	if hwm, err = parseProcField(b, "VmHWM:", 1024); err != nil {
		return 0, 0, err
	}
	if rss, err = parseProcField(b, "VmRSS:", 1024); err != nil {
		return 0, 0, err
	}
	return hwm, rss, nil
}

// parseProcField finds the line starting with name in a /proc file and
// returns its first number times unit ("VmHWM:    1234 kB" → 1234*1024).
func parseProcField(b []byte, name string, unit int64) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		fields := strings.Fields(line[len(name):])
		if len(fields) == 0 {
			return 0, fmt.Errorf("proc field %s has no value", name)
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc field %s: %w", name, err)
		}
		return n * unit, nil
	}
	return 0, fmt.Errorf("proc field %s not found", name)
}
