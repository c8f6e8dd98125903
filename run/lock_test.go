package run

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestSecondWriterIsRefusedWithHoldersPID guards against two writers of one
// run directory: while a Dir holds the run, Create, Resume and Restart
// are refused with a one-line error naming the holder's PID; Open, which
// reads, is not; after Close the run can be resumed.
func TestSecondWriterIsRefusedWithHoldersPID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s: in use by process %d (another hiertune writes this run)", path, os.Getpid())
	for what, open := range map[string]func() (*Dir, error){
		"Create":  func() (*Dir, error) { return Create(path, []byte("a: 1\n")) },
		"Resume":  func() (*Dir, error) { return Resume(path, []byte("a: 1\n")) },
		"Restart": func() (*Dir, error) { return Restart(path, []byte("a: 1\n"), true) },
	} {
		if other, err := open(); !errors.Is(err, ErrInUse) || err.Error() != want {
			if other != nil {
				other.Close()
			}
			t.Errorf("%s while held: %v, want %q", what, err, want)
		}
	}
	r, err := Open(path)
	if err != nil {
		t.Fatalf("reading a run being written: %v", err)
	}
	r.Close()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Resume(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatalf("resuming after Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestConcurrentCreatesMakeOneRun guards the creation of a new run against
// races: of several Creates of one new directory at once, exactly one
// succeeds, and metrics.jsonl gets only its records.
func TestConcurrentCreatesMakeOneRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "run")
	const n = 8
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
		dirs  = make([]*Dir, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			dirs[i], errs[i] = Create(path, []byte("a: 1\n"))
			if errs[i] == nil {
				errs[i] = dirs[i].Log(map[string]any{"step": 1})
			}
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			dirs[i].Close()
		case !errors.Is(err, ErrInUse) && !errors.Is(err, ErrExists):
			t.Errorf("losing Create: %v, want in use or exists", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d Creates succeeded, want 1", won)
	}
	if n := countLines(t, filepath.Join(path, "metrics.jsonl")); n != 1 {
		t.Errorf("metrics.jsonl has %d lines, want 1", n)
	}
}

// TestSecondProcessIsRefusedAndLockDiesWithHolder guards the lock across
// processes: another process holding the run makes Resume fail naming its
// PID, and its death (SIGKILL, no Close) releases the lock.
func TestSecondProcessIsRefusedAndLockDiesWithHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	h := startHelper(t, "resume", path)
	if got := h.line(t); got != "ok" {
		t.Fatalf("helper: %s", got)
	}
	want := fmt.Sprintf("in use by process %d", h.cmd.Process.Pid)
	if d, err := Resume(path, nil); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), want) {
		if d != nil {
			d.Close()
		}
		t.Fatalf("Resume while another process holds the run: %v, want %q", err, want)
	}
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	h.cmd.Wait()
	d, err = Resume(path, nil)
	if err != nil {
		t.Fatalf("Resume after the holder was killed: %v", err)
	}
	d.Close()
}

// TestConcurrentCreatesInTwoProcessesMakeOneRun guards run creation across
// processes: two processes told to Create one new directory at the same
// moment; exactly one succeeds.
func TestConcurrentCreatesInTwoProcessesMakeOneRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	hs := []*helper{startHelper(t, "create", path), startHelper(t, "create", path)}
	for _, h := range hs {
		if got := h.line(t); got != "ready" {
			t.Fatalf("helper: %s", got)
		}
	}
	for _, h := range hs {
		io.WriteString(h.stdin, "go\n")
	}
	won := 0
	for _, h := range hs {
		switch got := h.line(t); {
		case got == "ok":
			won++
		case !strings.Contains(got, "in use by process") && !strings.Contains(got, ErrNoCheckpoint.Error()):
			t.Errorf("losing process: %s", got)
		}
	}
	for _, h := range hs {
		h.stdin.Close()
		if err := h.cmd.Wait(); err != nil {
			t.Errorf("helper: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d processes created the run, want 1", won)
	}
	if n := countLines(t, filepath.Join(path, "metrics.jsonl")); n != 1 {
		t.Errorf("metrics.jsonl has %d lines, want 1", n)
	}
}

// helper is this test binary run again as TestHelperProcess.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startHelper(t *testing.T, what, path string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "RUN_TEST_HELPER="+what, "RUN_TEST_PATH="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return &helper{cmd, stdin, bufio.NewReader(stdout)}
}

func (h *helper) line(t *testing.T) string {
	t.Helper()
	s, err := h.out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the helper's output: %v", err)
	}
	return strings.TrimSpace(s)
}

// TestHelperProcess is not a test: it is the other process of the tests
// above. "resume" resumes the run, says ok and holds it until killed;
// "create" says ready, waits for go, creates the run, logs one record, says
// ok or the error, and holds the run until its input closes.
func TestHelperProcess(t *testing.T) {
	what, path := os.Getenv("RUN_TEST_HELPER"), os.Getenv("RUN_TEST_PATH")
	if what == "" {
		t.Skip("run by other tests")
	}
	in := bufio.NewReader(os.Stdin)
	var d *Dir
	var err error
	switch what {
	case "resume":
		d, err = Resume(path, nil)
	case "create":
		fmt.Println("ready")
		in.ReadString('\n')
		if d, err = Create(path, []byte("a: 1\n")); err == nil {
			err = d.Log(map[string]any{"pid": strconv.Itoa(os.Getpid())})
		}
	}
	if err != nil {
		fmt.Println(err)
	} else {
		fmt.Println("ok")
	}
	io.Copy(io.Discard, in)
	if d != nil {
		d.Close()
	}
	os.Exit(0)
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}
