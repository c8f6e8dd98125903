package kernels

import (
	"fmt"
	"testing"
	"time"
)

func TestZZSmallGemm(t *testing.T) {
	SetThreads(1)
	defer SetThreads(2)
	for _, s := range [][3]int{{25, 256, 256}, {25, 1024, 256}, {25, 256, 1024}, {800, 256, 256}, {800, 1024, 256}, {800, 256, 1024}} {
		m, n, k := s[0], s[1], s[2]
		a, w, c := make([]float32, m*k), make([]float32, n*k), make([]float32, m*n)
		for i := range a {
			a[i] = float32(i%7) * 0.1
		}
		for i := range w {
			w[i] = float32(i%5) * 0.1
		}
		reps := max(1, 2e8/(2*m*n*k))
		best := [2]float64{}
		for r := 0; r < 10; r++ {
			for tr := 0; tr < 2; tr++ {
				start := time.Now()
				for range reps {
					if tr == 0 {
						Gemm(false, true, m, n, k, 1, a, k, w, k, 0, c, n)
					} else {
						Gemm(false, false, m, n, k, 1, a, k, w, n, 0, c, n)
					}
				}
				g := float64(2*m*n*k*reps) / time.Since(start).Seconds() / 1e9
				best[tr] = max(best[tr], g)
			}
		}
		fmt.Printf("m=%d n=%d k=%d: NT %.1f NN %.1f GFLOP/s\n", m, n, k, best[0], best[1])
	}
}
