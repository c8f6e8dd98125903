package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/serve"
)

func runLoad(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("load", "load --url http://127.0.0.1:8080 --data FILE.conllu [--clients 1,8,64] [--requests 500] [--duration 60s] [--sentences 1] | --faults [--flood 64 --max-sentences 256]", stdout, stderr)
	target := fs.String("url", "http://127.0.0.1:8080", "a hiertune serve on this machine (loopback addresses only)")
	data := fs.String("data", "", "a CoNLL-U file whose sentences the requests send (as pre-tokenised words)")
	clientList := fs.String("clients", "1,8,64", "comma-separated numbers of concurrent clients, one test each")
	requests := fs.Int("requests", 500, "requests per test (at most)")
	duration := fs.Duration("duration", time.Minute, "time per test (at most)")
	per := fs.Int("sentences", 1, "sentences per request")
	faults := fs.Bool("faults", false, "instead of measuring, send bad and abusive traffic (malformed JSON, invalid UTF-8, 10 MB, 10,000 words, a slow client, clients hanging up, a flood past the queue) while a client sends valid requests, and check every answer")
	flood := fs.Int("flood", 64, "with --faults: clients in the flood")
	maxSentences := fs.Int("max-sentences", 256, "with --faults: sentences per request of the flood (the server's --max-sentences)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" || *per < 1 {
		return usageError{"--data is required and --sentences must be positive"}
	}
	var clients []int
	for _, f := range strings.Split(*clientList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return usageError{fmt.Sprintf("--clients: %q is not a positive number", f)}
		}
		clients = append(clients, n)
	}
	if err := serve.CheckLoopback(*target); err != nil {
		return usageError{"--url: " + err.Error()}
	}
	doc, err := conllu.ReadFile(*data)
	if err != nil {
		return err
	}
	var sentences [][]string
	for _, s := range doc {
		var ws []string
		for _, r := range s.Words() {
			ws = append(ws, r.Form)
		}
		sentences = append(sentences, ws)
	}
	bodies, words := serve.SentenceBodies(sentences, *per)
	if len(bodies) == 0 {
		return fmt.Errorf("%s: no sentences", *data)
	}
	enc := json.NewEncoder(stdout)
	if *faults {
		return runFaults(strings.TrimSuffix(*target, "/"), bodies[0], *flood, *maxSentences, enc, stderr)
	}
	for _, c := range clients {
		r, err := serve.Load(context.Background(), serve.LoadOptions{URL: strings.TrimSuffix(*target, "/"), Bodies: bodies, Words: words,
			Clients: c, Requests: *requests, Duration: *duration})
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%d clients: %d requests in %.1fs, %.1f req/s, %.0f words/s, p50 %.1f ms, p99 %.1f ms, status %v\n",
			c, r.Requests, r.Seconds, r.RequestsPerSecond, r.WordsPerSecond, r.P50, r.P99, r.Status)
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// runFaults runs serve.Faults and fails when an answer was not the one
// expected.
func runFaults(target string, valid []byte, flood, maxSentences int, enc *json.Encoder, stderr io.Writer) error {
	results, err := serve.Faults(context.Background(), target, valid, flood, maxSentences)
	if err != nil {
		return err
	}
	var bad []string
	for _, r := range results {
		verdict := "ok"
		if !r.OK {
			verdict, bad = "WRONG", append(bad, r.Name)
		}
		fmt.Fprintf(stderr, "%-52s %-5s got %v (want %v); valid requests meanwhile %v; peak RSS %.0f MiB\n",
			r.Name, verdict, r.Got, r.Want, r.Valid, float64(r.PeakRSS)/(1<<20))
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("unexpected answers to: %s", strings.Join(bad, "; "))
	}
	return nil
}
