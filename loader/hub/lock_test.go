package hub

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	first, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if f, err := lockFile(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		f.Close()
		t.Fatalf("second lock while held: %v, want a deadline error", err)
	}
	done := make(chan error)
	go func() {
		f, err := lockFile(context.Background(), path)
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	first.Close()
	if err := <-done; err != nil {
		t.Fatalf("lock after release: %v", err)
	}
}
