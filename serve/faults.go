package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultResult is how a server answered one kind of bad or abusive
// traffic, and how the valid requests sent meanwhile fared.
type FaultResult struct {
	Name string `json:"name"`
	// Want lists the statuses the fault's requests may get ("none" for a
	// client that hangs up before its answer); Got counts those they got.
	Want []string       `json:"want"`
	Got  map[string]int `json:"got"`
	// Valid counts the statuses of the valid requests one client sent
	// while the fault ran; they must all be 200 (or 503 while the queue is
	// flooded).
	Valid map[string]int `json:"valid_meanwhile"`
	OK    bool           `json:"ok"`
	// PeakRSS is the server's peak resident memory after the fault, from
	// its /metrics (0 where the server does not report it).
	PeakRSS int64   `json:"peak_rss_bytes"`
	Seconds float64 `json:"seconds"`
}

// fault is one kind of bad traffic: send sends it and returns the status
// of each of its requests.
type fault struct {
	name      string
	want      []string
	validAlso []string // statuses the valid requests may get meanwhile, besides 200
	send      func(ctx context.Context, target string) ([]string, error)
}

// Faults sends the server at target (loopback only) one kind of bad
// traffic after another — malformed JSON, invalid UTF-8, a 10 MB body, a
// sentence of 10,000 words, a client sending its body byte by byte, clients
// hanging up mid-request, and a flood of the largest requests past the
// queue — while one client keeps sending the valid request valid, and
// reports each fault's answers, the valid requests' and the server's peak
// memory. flood is the number of clients of the flood, each sending
// maxSentences sentences per request, four requests each.
func Faults(ctx context.Context, target string, valid []byte, flood, maxSentences int) ([]FaultResult, error) {
	if err := CheckLoopback(target); err != nil {
		return nil, err
	}
	word := json.RawMessage(`"word"`)
	sentence := func(n int) []json.RawMessage { return slices.Repeat([]json.RawMessage{word}, n) }
	big, _ := json.Marshal(map[string]any{"sentences": slices.Repeat([][]json.RawMessage{sentence(12)}, maxSentences)})
	long, _ := json.Marshal(map[string]any{"sentences": [][]json.RawMessage{sentence(10000)}})
	faults := []fault{
		{name: "malformed JSON", want: []string{"400"}, send: postN([]byte(`{"sentences": [["a", "b"`), 1)},
		{name: "invalid UTF-8", want: []string{"400"}, send: postN([]byte("{\"text\": \"caf\xc3\x28 au lait\"}"), 1)},
		{name: "10 MB body", want: []string{"413"}, send: postN([]byte(`{"text": "`+strings.Repeat("a ", 5<<20)+`"}`), 1)},
		{name: "a sentence of 10,000 words", want: []string{"422"}, send: postN(long, 1)},
		{name: "a slow client (its body one byte per 20 ms)", want: []string{"200"}, send: slowPost(valid, 20*time.Millisecond)},
		{name: "clients hanging up mid-request", want: []string{"none", "503", "200"}, send: hangUp(big, 8)},
		{name: fmt.Sprintf("a flood: %d clients × 4 requests of %d sentences", flood, maxSentences), want: []string{"200", "503"},
			validAlso: []string{"503"}, send: floodOf(big, flood, 4)},
	}
	var out []FaultResult
	for _, f := range faults {
		r, err := runFault(ctx, target, valid, f)
		if err != nil {
			return out, fmt.Errorf("%s: %w", f.name, err)
		}
		out = append(out, *r)
	}
	return out, nil
}

// runFault runs f while one client sends valid requests.
func runFault(ctx context.Context, target string, valid []byte, f fault) (*FaultResult, error) {
	r := &FaultResult{Name: f.name, Want: f.want, Got: map[string]int{}, Valid: map[string]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				if n > 0 {
					return
				}
			default:
			}
			codes, _ := postN(valid, 1)(ctx, target)
			r.Valid[codes[0]]++
		}
	}()
	start := time.Now()
	codes, err := f.send(ctx, target)
	close(stop)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	r.Seconds = time.Since(start).Seconds()
	r.OK = true
	for _, c := range codes {
		r.Got[c]++
		r.OK = r.OK && slices.Contains(f.want, c)
	}
	for c := range r.Valid {
		r.OK = r.OK && (c == "200" || slices.Contains(f.validAlso, c))
	}
	r.PeakRSS = peakRSS(target)
	return r, nil
}

// postN returns a fault sending body n times, one request after another.
func postN(body []byte, n int) func(context.Context, string) ([]string, error) {
	return func(ctx context.Context, target string) ([]string, error) {
		var codes []string
		for range n {
			req, err := http.NewRequestWithContext(ctx, "POST", target+"/v1/annotate", bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			codes = append(codes, statusOf(http.DefaultClient.Do(req)))
		}
		return codes, nil
	}
}

// statusOf returns a response's status code, or "error: …" for a request
// that got none.
func statusOf(resp *http.Response, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		return "503 without Retry-After"
	}
	return strconv.Itoa(resp.StatusCode)
}

// slowPost sends body over a raw connection one byte per every.
func slowPost(body []byte, every time.Duration) func(context.Context, string) ([]string, error) {
	return func(ctx context.Context, target string) ([]string, error) {
		u, err := url.Parse(target)
		if err != nil {
			return nil, err
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1/annotate HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", u.Host, len(body))
		for _, b := range body {
			if _, err := conn.Write([]byte{b}); err != nil {
				return []string{"error: " + err.Error()}, nil
			}
			time.Sleep(every)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		return []string{statusOf(resp, err)}, nil
	}
}

// hangUp sends body n times, each request abandoned by its client 5 ms
// after it is sent. An abandoned request's sentences leave the queue when
// the worker reaches them (it drops them unrun), so the next ones may find
// the queue full: 503 is a right answer too, and so is 200 from a server
// that answered within those 5 ms.
func hangUp(body []byte, n int) func(context.Context, string) ([]string, error) {
	return func(ctx context.Context, target string) ([]string, error) {
		var codes []string
		for range n {
			c, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
			req, err := http.NewRequestWithContext(c, "POST", target+"/v1/annotate", bytes.NewReader(body))
			if err != nil {
				cancel()
				return nil, err
			}
			code := statusOf(http.DefaultClient.Do(req))
			cancel()
			if strings.HasPrefix(code, "error: ") && c.Err() != nil {
				code = "none"
			}
			codes = append(codes, code)
		}
		return codes, nil
	}
}

// floodOf sends body from clients concurrent clients, each n times.
func floodOf(body []byte, clients, n int) func(context.Context, string) ([]string, error) {
	return func(ctx context.Context, target string) ([]string, error) {
		var mu sync.Mutex
		var codes []string
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, _ := postN(body, n)(ctx, target)
				mu.Lock()
				codes = append(codes, got...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return codes, nil
	}
}

// peakRSS reads the server's peak resident memory from its /metrics.
func peakRSS(target string) int64 {
	resp, err := http.Get(target + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "hiertune_peak_resident_memory_bytes "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
