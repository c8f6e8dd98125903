package serve

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// metrics are the server's counters, in Prometheus' text exposition
// format.
type metrics struct {
	mu        sync.Mutex
	requests  map[int]int64 // by status code
	latency   histogram     // seconds per request
	batches   histogram     // sentences per batch
	sentences int64
	words     int64
	compute   float64 // seconds spent computing batches
	queue     func() int
}

// histogram is a cumulative Prometheus histogram.
type histogram struct {
	bounds []float64
	counts []int64 // per bound, plus +Inf
	sum    float64
	n      int64
}

func newHistogram(bounds ...float64) histogram {
	return histogram{bounds: bounds, counts: make([]int64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

func newMetrics(queue func() int) *metrics {
	return &metrics{requests: map[int]int64{}, queue: queue,
		latency: newHistogram(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
		batches: newHistogram(1, 2, 4, 8, 16, 32, 64, 128, 256)}
}

func (m *metrics) request(code int, seconds float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[code]++
	m.latency.observe(seconds)
}

func (m *metrics) batch(sentences, words int, seconds float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches.observe(float64(sentences))
	m.sentences += int64(sentences)
	m.words += int64(words)
	m.compute += seconds
}

// write writes every metric in the text exposition format.
func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP hiertune_requests_total Annotation requests answered, by HTTP status.")
	fmt.Fprintln(w, "# TYPE hiertune_requests_total counter")
	codes := make([]int, 0, len(m.requests))
	for c := range m.requests {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "hiertune_requests_total{code=\"%d\"} %d\n", c, m.requests[c])
	}
	writeHistogram(w, "hiertune_request_duration_seconds", "Time from a request's arrival to its answer.", &m.latency)
	writeHistogram(w, "hiertune_batch_sentences", "Sentences per batch the model ran (dynamic batching).", &m.batches)
	fmt.Fprintln(w, "# HELP hiertune_queue_sentences Sentences waiting to be batched.")
	fmt.Fprintln(w, "# TYPE hiertune_queue_sentences gauge")
	fmt.Fprintf(w, "hiertune_queue_sentences %d\n", m.queue())
	fmt.Fprintln(w, "# HELP hiertune_sentences_total Sentences annotated.")
	fmt.Fprintln(w, "# TYPE hiertune_sentences_total counter")
	fmt.Fprintf(w, "hiertune_sentences_total %d\n", m.sentences)
	fmt.Fprintln(w, "# HELP hiertune_words_total Words annotated.")
	fmt.Fprintln(w, "# TYPE hiertune_words_total counter")
	fmt.Fprintf(w, "hiertune_words_total %d\n", m.words)
	fmt.Fprintln(w, "# HELP hiertune_compute_seconds_total Time spent running batches.")
	fmt.Fprintln(w, "# TYPE hiertune_compute_seconds_total counter")
	fmt.Fprintf(w, "hiertune_compute_seconds_total %g\n", m.compute)
	fmt.Fprintln(w, "# HELP hiertune_words_per_second Words annotated per second of computing.")
	fmt.Fprintln(w, "# TYPE hiertune_words_per_second gauge")
	rate := 0.0
	if m.compute > 0 {
		rate = float64(m.words) / m.compute
	}
	fmt.Fprintf(w, "hiertune_words_per_second %g\n", rate)
	if rss, peak, ok := residentMemory(); ok {
		fmt.Fprintln(w, "# HELP process_resident_memory_bytes Resident memory size in bytes.")
		fmt.Fprintln(w, "# TYPE process_resident_memory_bytes gauge")
		fmt.Fprintf(w, "process_resident_memory_bytes %d\n", rss)
		fmt.Fprintln(w, "# HELP hiertune_peak_resident_memory_bytes The most resident memory the process has had, in bytes.")
		fmt.Fprintln(w, "# TYPE hiertune_peak_resident_memory_bytes gauge")
		fmt.Fprintf(w, "hiertune_peak_resident_memory_bytes %d\n", peak)
	}
}

// residentMemory reads the process's resident memory and its peak from
// /proc (Linux; ok is false elsewhere).
func residentMemory() (rss, peak int64, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak, rss > 0 && peak > 0
}

func writeHistogram(w io.Writer, name, help string, h *histogram) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum int64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, strconv.FormatFloat(b, 'g', -1, 64), cum)
	}
	cum += h.counts[len(h.bounds)]
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", name, cum, name, h.sum, name, h.n)
}
