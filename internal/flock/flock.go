// Package flock takes exclusive advisory locks on files: flock(2) on Unix,
// LockFileEx on the first byte on Windows, the locks Python's filelock takes.
// The system releases a lock when its file is closed or its process dies, so
// a crash never leaves a file locked.
package flock

import (
	"context"
	"os"
	"time"
)

// Lock opens path, creating it if needed, and waits until it holds an
// exclusive lock on it, or ctx is done; closing the returned file releases
// the lock.
func Lock(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		locked, err := TryLock(f)
		if err != nil {
			f.Close()
			return nil, &os.PathError{Op: "lock", Path: path, Err: err}
		}
		if locked {
			return f, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
