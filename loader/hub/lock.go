package hub

import (
	"context"
	"os"
	"time"
)

// lockFile opens path, creating it if needed, and waits until it holds an
// exclusive lock on it; closing the returned file releases the lock. The lock
// is the one Python's filelock takes, and the system releases it if the
// process dies, so a crash never leaves the cache locked.
func lockFile(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		locked, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, &os.PathError{Op: "lock", Path: path, Err: err}
		}
		if locked {
			return f, nil
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			f.Close()
			return nil, err
		}
	}
}
