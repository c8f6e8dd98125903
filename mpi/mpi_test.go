package mpi

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMain runs the helper ranks when mpirun starts this test binary.
func TestMain(m *testing.M) {
	if mode := os.Getenv("HIERTUNE_MPI_HELPER"); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// helper is one rank of a test job: it reduces known values and prints
// what it got; with mode "die", rank 1 exits before the reduction.
func helper(mode string) int {
	c, err := Init()
	if err != nil {
		fmt.Println("init:", err)
		return 1
	}
	if mode == "die" && c.Rank() == 1 {
		os.Exit(3)
	}
	if mode == "bandwidth" {
		return bandwidth(c)
	}
	a := []float32{float32(c.Rank() + 1), 10}
	b := make([]float32, 1000)
	for i := range b {
		b[i] = float32(i * (c.Rank() + 1))
	}
	p := c.Start(b) // overlaps the blocking reductions below
	if err := c.SumFloat32(a); err != nil {
		fmt.Println(err)
		return 1
	}
	m := []float64{float64(c.Rank())}
	if err := c.MaxFloat64(m); err != nil {
		fmt.Println(err)
		return 1
	}
	if err := p.Wait(); err != nil {
		fmt.Println(err)
		return 1
	}
	// Ranks gather payloads of different lengths, one of them empty.
	g, err := c.AllGather([]byte(strings.Repeat("é", c.Rank()*2)))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	if err := c.Barrier(); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("rank %d of %d: sum %v max %v b[999] %v gathered %q\n", c.Rank(), c.Size(), a, m[0], b[999], g)
	if err := c.Finalize(); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}

// bandwidth times sum all-reduces of 4 MB, 8 MB (hiertune's bucket) and
// 32 MB on every rank and prints rank 0's view.
func bandwidth(c *Comm) int {
	for _, n := range []int{1 << 20, 2 << 20, 8 << 20} {
		buf := make([]float32, n)
		c.SumFloat32(buf) // warm up
		c.Barrier()
		start := time.Now()
		for range 10 {
			if err := c.SumFloat32(buf); err != nil {
				fmt.Println(err)
				return 1
			}
		}
		el := time.Since(start).Seconds() / 10
		if c.Rank() == 0 {
			fmt.Printf("all-reduce of %d MB on %d ranks: %.2f ms, %.2f GB/s\n", 4*n>>20, c.Size(), 1000*el, float64(4*n)/el/1e9)
		}
	}
	c.Finalize()
	return 0
}

// TestAllreduceBandwidth measures sum all-reduces on two ranks of this
// machine (docs/distributed.md); only with HIERTUNE_MPI_BANDWIDTH=1, as it
// measures rather than checks:
//
//	HIERTUNE_MPI_BANDWIDTH=1 go test ./mpi -run Bandwidth -v
func TestAllreduceBandwidth(t *testing.T) {
	if os.Getenv("HIERTUNE_MPI_BANDWIDTH") != "1" {
		t.Skip("a measurement: set HIERTUNE_MPI_BANDWIDTH=1")
	}
	out, err, _ := mpirun(t, 2, "bandwidth", 5*time.Minute)
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
	t.Log("\n" + out)
}

func TestWorldOfOne(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_SIZE", "")
	c, err := Init()
	if err != nil {
		t.Fatal(err)
	}
	buf := []float32{1, 2}
	if c.Rank() != 0 || c.Size() != 1 || c.SumFloat32(buf) != nil || buf[1] != 2 || c.Start(buf).Wait() != nil || c.Finalize() != nil {
		t.Errorf("a world of one: rank %d of %d, %v", c.Rank(), c.Size(), buf)
	}
}

// mpirun runs this test binary as n ranks in helper mode.
func mpirun(t *testing.T, n int, mode string, timeout time.Duration) (string, error, time.Duration) {
	t.Helper()
	if !Native {
		t.Skip("built without cgo: no MPI")
	}
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev); scripts/setup.sh installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mpirun", "-np", fmt.Sprint(n), "--oversubscribe", "-x", "HIERTUNE_MPI_HELPER="+mode, os.Args[0])
	cmd.Env = append(os.Environ(), "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "HIERTUNE_MPI_HELPER="+mode)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	return string(out), err, time.Since(start)
}

// TestAllreduceUnderMpirun: two ranks sum and maximise known values,
// blocking and overlapped, and gather byte strings.
func TestAllreduceUnderMpirun(t *testing.T) {
	out, err, _ := mpirun(t, 2, "reduce", time.Minute)
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
	for r := range 2 {
		want := fmt.Sprintf(`rank %d of 2: sum [3 20] max 1 b[999] 2997 gathered ["" "éé"]`, r)
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestDeadRankStopsTheJob: when a rank dies, the others do not hang in
// their reduction: the job ends, non-zero, within seconds.
func TestDeadRankStopsTheJob(t *testing.T) {
	out, err, took := mpirun(t, 2, "die", time.Minute)
	if err == nil {
		t.Fatalf("the job with a dead rank succeeded:\n%s", out)
	}
	if took > 20*time.Second {
		t.Errorf("the job took %s to end after a rank died", took)
	}
	t.Logf("ended in %s: %v", took.Round(time.Millisecond), err)
}
