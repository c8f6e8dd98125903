package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/run"
)

var (
	trained     string
	trainOnce   sync.Once
	errTraining error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if trained != "" {
		os.RemoveAll(filepath.Dir(trained))
	}
	os.Exit(code)
}

// tinyRun trains (once per test binary) a tiny tagger and parser on the
// sample data and returns its run directory.
func tinyRun(t *testing.T) string {
	t.Helper()
	trainOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hiertune-serve-test-")
		if err != nil {
			errTraining = err
			return
		}
		data, _ := filepath.Abs("../examples/data")
		trained = filepath.Join(dir, "run")
		raw := []byte("output: " + trained + `
model: tiny-random
datasets:
  ewt: {format: conllu, train: ` + data + `/ewt-sample-train.conllu, dev: ` + data + `/ewt-sample-dev.conllu, limit: 16}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 8, rel_mlp: 8}
train: {batch_size: 8, steps: 2, threads: 1, eval_every: 2}
`)
		cfg, err := finetune.ParseConfig(raw)
		if err != nil {
			errTraining = err
			return
		}
		errTraining = finetune.Run(context.Background(), cfg, raw, run.New, io.Discard, nil)
	})
	if errTraining != nil {
		t.Fatal(errTraining)
	}
	return trained
}

// start serves the tiny run with cfg on a free loopback port and returns
// its base URL, the model and a function that shuts it down gracefully.
func start(t *testing.T, cfg Config) (string, *model.Model, func()) {
	t.Helper()
	m, err := finetune.Open(tinyRun(t), "latest")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(m, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler()}
	s.Start()
	go srv.Serve(ln)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Shutdown(context.Background())
			s.Drain()
		})
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), m, stop
}

func post(t *testing.T, url, body string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/v1/annotate", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestSameAsPredict: CoNLL-U in gives the CoNLL-U predict writes, and the
// JSON answers hold the same predictions.
func TestSameAsPredict(t *testing.T) {
	url, m, _ := start(t, Config{})
	dev, _ := filepath.Abs("../examples/data/ewt-sample-dev.conllu")
	doc, err := os.ReadFile(dev)
	if err != nil {
		t.Fatal(err)
	}
	// The first 40 sentences, as a document.
	parts := strings.SplitAfter(string(doc), "\n\n")
	doc = []byte(strings.Join(parts[:40], ""))
	in := filepath.Join(t.TempDir(), "in.conllu")
	os.WriteFile(in, doc, 0o644)
	var want bytes.Buffer
	if err := m.PredictFile("", in, &want, 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	code, _, got := post(t, url, `{"conllu": `+quote(string(doc))+`}`)
	if code != 200 || string(got) != want.String() {
		t.Fatalf("conllu: %d, the answer differs from predict's output:\n%.300s\n---\n%.300s", code, got, want.String())
	}
	// The same sentences as words, in JSON.
	code, _, body := post(t, url, `{"conllu": `+quote(string(doc))+`, "format": "json"}`)
	var resp Response
	if code != 200 || json.Unmarshal(body, &resp) != nil || len(resp.Sentences) != 40 {
		t.Fatalf("json: %d %.300s", code, body)
	}
	var lines []string
	for _, l := range strings.Split(want.String(), "\n") {
		if f := strings.Split(l, "\t"); len(f) == 10 && !strings.ContainsAny(f[0], "-.") {
			lines = append(lines, f[3]+" "+f[6]+" "+f[7])
		}
	}
	k := 0
	for _, s := range resp.Sentences {
		p := s.Predictions
		for i := range s.Words {
			if got := p["upos"]["upos"][i] + " " + p["deps"]["head"][i] + " " + p["deps"]["deprel"][i]; got != lines[k] {
				t.Fatalf("word %d: json %q, predict %q", k, got, lines[k])
			}
			k++
		}
	}
	// Probabilities: one confidence per word for each score block, in
	// (0, 1], and the most likely tag's is the one predicted.
	code, _, body = post(t, url, `{"sentences": [["The", "cat", "sat", "."], ["It", "purred"]], "probabilities": true}`)
	if code != 200 || json.Unmarshal(body, &resp) != nil {
		t.Fatalf("probabilities: %d %s", code, body)
	}
	for _, s := range resp.Sentences {
		if _, ok := s.Probabilities["deps"]["deps.rel"]; ok {
			t.Error("relation confidences at gold heads in a served answer")
		}
		for _, block := range []string{"upos", "deps.arc"} {
			task, _, _ := strings.Cut(block, ".")
			c := s.Probabilities[task][block]
			if len(c) != len(s.Words) {
				t.Fatalf("%s: %d confidences for %d words (%s)", block, len(c), len(s.Words), body)
			}
			for _, v := range c {
				if !(v > 0 && v <= 1) {
					t.Errorf("%s: confidence %g", block, v)
				}
			}
		}
	}
	if code, _, _ := post(t, url, `{"conllu": `+quote(string(doc))+`, "probabilities": true}`); code != 422 {
		t.Errorf("probabilities with a CoNLL-U answer: %d", code)
	}
	// Raw text: sentences, words and offsets.
	code, _, body = post(t, url, `{"text": "The cat sat. It purred!"}`)
	if code != 200 || json.Unmarshal(body, &resp) != nil || len(resp.Sentences) != 2 || resp.Sentences[1].Offsets[0] != [2]int{13, 15} {
		t.Fatalf("text: %d %s", code, body)
	}
}

// TestErrors sends bad requests: each gets its status and a JSON error
// naming the problem, and the server goes on answering.
func TestErrors(t *testing.T) {
	url, m, _ := start(t, Config{MaxBody: 200 << 10, MaxSentences: 8})
	long := strings.TrimSuffix(strings.Repeat(`"w",`, 10000), ",")
	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{"sentences": [["a"]`, 400, "not a valid request"},
		{`{"text": "\u00e9", "x": 1}`, 400, `unknown field "x"`},
		{"{\"text\": \"caf\xe9\"}", 400, "not valid UTF-8 (at byte 13)"},
		{`{"text": "` + strings.Repeat("a", 300<<10) + `"}`, 413, "larger than"},
		{`{"sentences": [` + strings.TrimSuffix(strings.Repeat(`["a"],`, 9), ",") + `]}`, 413, "9 sentences, more than the limit of 8"},
		{`{"sentences": [[` + long + `]]}`, 422, fmt.Sprintf("sentence 1 has 10000 words, more than the limit of %d", m.MaxWords)},
		{`{}`, 422, "exactly one of"},
		{`{"text": "a", "sentences": [["a"]]}`, 422, "exactly one of"},
		{`{"sentences": [[]]}`, 422, "sentence 1 has no words"},
		{`{"sentences": [["a b"]]}`, 422, "white space"},
		{`{"texts": ["a"]}`, 422, "annotates words"},
		{`{"dataset": "nope", "text": "a"}`, 422, `no dataset "nope"`},
		{`{"text": "a", "format": "conllu"}`, 422, "CoNLL-U input only"},
		{`{"conllu": "1\ta\n"}`, 422, "conllu: line"},
	} {
		code, _, body := post(t, url, c.body)
		var e map[string]string
		if code != c.code || json.Unmarshal(body, &e) != nil || !strings.Contains(e["error"], c.want) {
			t.Errorf("%.60s: %d %s, want %d and %q", c.body, code, body, c.code, c.want)
		}
	}
	if code, _, _ := post(t, url, `{"sentences": [["a", "b"]]}`); code != 200 {
		t.Errorf("a valid request after the bad ones: %d", code)
	}
	resp, err := http.Get(url + "/v1/annotate")
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/annotate: %v %v", resp.StatusCode, err)
	}
}

// TestBatchingAndOverload: concurrent requests are batched together
// (visible in /metrics), a request that would overflow the queue gets 503
// with Retry-After while the others complete, and one past its timeout
// gets 504.
func TestBatchingAndOverload(t *testing.T) {
	url, _, _ := start(t, Config{MaxWait: 300 * time.Millisecond, MaxBatch: 64, Queue: 8, MaxSentences: 8, Timeout: 5 * time.Second})
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = post(t, url, `{"sentences": [["a", "b"], ["c"]]}`)
		}()
	}
	time.Sleep(100 * time.Millisecond) // the 8 sentences are queued, the batch is waiting
	code, h, body := post(t, url, `{"sentences": [["x"]]}`)
	if code != 503 || h.Get("Retry-After") == "" || !strings.Contains(string(body), "queue is full") {
		t.Errorf("past the queue: %d %q %s", code, h.Get("Retry-After"), body)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: %d", i, c)
		}
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// One batch of the 8 queued sentences: none of size 4 or less.
	if !strings.Contains(string(b), `hiertune_batch_sentences_bucket{le="4"} 0`) || !strings.Contains(string(b), `hiertune_batch_sentences_bucket{le="8"} 1`) {
		t.Errorf("the concurrent requests were not batched together:\n%s", b)
	}
	for _, want := range []string{`hiertune_requests_total{code="503"} 1`, `hiertune_requests_total{code="200"} 4`, "hiertune_queue_sentences 0", "hiertune_words_total 12"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	slow, _, _ := start(t, Config{MaxWait: time.Second, MaxBatch: 64, Timeout: 50 * time.Millisecond})
	if code, _, body := post(t, slow, `{"sentences": [["a"]]}`); code != 504 {
		t.Errorf("past the timeout: %d %s", code, body)
	}
}

// TestGracefulShutdown: shutting down while a request waits for its batch
// lets it finish; readyz fails once draining; new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	url, _, stop := start(t, Config{MaxWait: 400 * time.Millisecond, MaxBatch: 64})
	if resp, err := http.Get(url + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz before: %v", err)
	}
	done := make(chan int)
	go func() {
		code, _, _ := post(t, url, `{"sentences": [["a", "b"]]}`)
		done <- code
	}()
	time.Sleep(100 * time.Millisecond)
	stop()
	if code := <-done; code != 200 {
		t.Errorf("the request in flight during shutdown got %d", code)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the server still accepts connections after shutdown")
	}
}

// TestLoad runs the load generator against the server, and refuses a
// target off this machine.
func TestLoad(t *testing.T) {
	url, _, _ := start(t, Config{})
	bodies, words := SentenceBodies([][]string{{"The", "cat"}, {"It", "purred", "."}, {"Yes"}}, 2)
	if len(bodies) != 2 || words[0] != 5 || words[1] != 1 {
		t.Fatalf("bodies %q, words %v", bodies, words)
	}
	r, err := Load(context.Background(), LoadOptions{URL: url, Bodies: bodies, Words: words, Clients: 4, Requests: 20, Duration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 20 || r.Status["200"] != 20 || !(r.P50 > 0 && r.P50 <= r.P99) || r.WordsPerSecond <= 0 {
		t.Errorf("load result %+v", r)
	}
	if _, err := Load(context.Background(), LoadOptions{URL: "http://192.0.2.1:80", Bodies: bodies, Clients: 1, Requests: 1, Duration: time.Second}); err == nil || !strings.Contains(err.Error(), "not a loopback") {
		t.Errorf("a load test off this machine: %v", err)
	}
}

// TestFaults sends the server bad and abusive traffic while a client
// sends valid requests: every answer is the one expected, the flood past
// the queue gets 503s, and the valid requests keep being answered.
func TestFaults(t *testing.T) {
	url, _, _ := start(t, Config{Queue: 64, MaxSentences: 32})
	valid, _ := SentenceBodies([][]string{{"The", "cat", "sat", "."}}, 1)
	results, err := Faults(context.Background(), url, valid[0], 16, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 7 {
		t.Fatalf("%d faults run", len(results))
	}
	for _, r := range results {
		if !r.OK || r.Valid["200"] == 0 {
			t.Errorf("%s: got %v (want %v), valid requests meanwhile %v", r.Name, r.Got, r.Want, r.Valid)
		}
	}
	if flood := results[len(results)-1]; flood.Got["503"] == 0 || flood.Got["200"] == 0 || flood.PeakRSS <= 0 {
		t.Errorf("the flood past a queue of 64 sentences: %v, peak RSS %d", flood.Got, flood.PeakRSS)
	}
}
