package flock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLockWaitsForRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	first, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if f, err := Lock(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		f.Close()
		t.Fatalf("second lock while held: %v, want a deadline error", err)
	}
	done := make(chan error)
	go func() {
		f, err := Lock(context.Background(), path)
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

func TestTryLockFailsWhileAnotherFileHoldsIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b := open(), open()
	defer b.Close()
	if ok, err := TryLock(a); !ok || err != nil {
		t.Fatalf("first TryLock: %v, %v", ok, err)
	}
	if ok, err := TryLock(b); ok || err != nil {
		t.Fatalf("TryLock while held: %v, %v, want false, nil", ok, err)
	}
	a.Close()
	if ok, err := TryLock(b); !ok || err != nil {
		t.Fatalf("TryLock after release: %v, %v", ok, err)
	}
}
