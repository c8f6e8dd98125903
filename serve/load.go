package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// LoadOptions is a load test: Clients concurrent clients send requests of
// the given bodies (in turn) to URL's /v1/annotate until Requests requests
// are answered or Duration has passed, whichever comes first.
type LoadOptions struct {
	URL      string
	Bodies   [][]byte
	Words    []int // words in each body, for the rate
	Clients  int
	Requests int
	Duration time.Duration
}

// LoadResult is what a load test measured.
type LoadResult struct {
	Clients  int            `json:"clients"`
	Requests int            `json:"requests"`
	Seconds  float64        `json:"seconds"`
	Status   map[string]int `json:"status"`
	// PerSecond counts answered (200) requests and their words per second
	// of the test.
	RequestsPerSecond float64 `json:"requests_per_s"`
	WordsPerSecond    float64 `json:"words_per_s"`
	// Latency quantiles of the answered requests, in milliseconds.
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
}

// CheckLoopback refuses a URL whose host is not a loopback address: load
// tests are for one's own server.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return fmt.Errorf("%s: %w", u.Hostname(), err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address: the load test only targets this machine", u.Hostname())
		}
	}
	return nil
}

// Load runs a load test.
func Load(ctx context.Context, o LoadOptions) (*LoadResult, error) {
	if err := CheckLoopback(o.URL); err != nil {
		return nil, err
	}
	if o.Clients < 1 || o.Requests < 1 || o.Duration <= 0 || len(o.Bodies) == 0 {
		return nil, fmt.Errorf("load: clients, requests, duration and bodies must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Clients}}
	var mu sync.Mutex
	var lat []float64
	status := map[string]int{}
	words, next := 0, 0
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= o.Requests || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				k := next % len(o.Bodies)
				next++
				mu.Unlock()
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "POST", o.URL+"/v1/annotate", bytes.NewReader(o.Bodies[k]))
				resp, err := client.Do(req)
				code := "error"
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = fmt.Sprint(resp.StatusCode)
				} else if ctx.Err() != nil {
					return // the test's time is up: not the server's failure
				}
				mu.Lock()
				status[code]++
				if code == "200" {
					lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
					if k < len(o.Words) {
						words += o.Words[k]
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	r := &LoadResult{Clients: o.Clients, Seconds: secs, Status: status}
	for _, n := range status {
		r.Requests += n
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	r.P50, r.P90, r.P99 = q(0.5), q(0.9), q(0.99)
	r.RequestsPerSecond, r.WordsPerSecond = float64(len(lat))/secs, float64(words)/secs
	return r, nil
}

// SentenceBodies makes request bodies of per sentences each from
// sentences, with their word counts.
func SentenceBodies(sentences [][]string, per int) (bodies [][]byte, words []int) {
	for i := 0; i < len(sentences); i += per {
		group := sentences[i:min(len(sentences), i+per)]
		b, _ := json.Marshal(Request{Sentences: group})
		n := 0
		for _, s := range group {
			n += len(s)
		}
		bodies, words = append(bodies, b), append(words, n)
	}
	return bodies, words
}
