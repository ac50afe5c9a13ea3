// Not a leak: a bounded cache (a ring of 5,000 entries) with a lazy GC (GOGC=400): the heap
// swings high between collections, but what survives them stays flat.
// Ground truth: no_leak.
package main

import (
	_ "expvar"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

const size = 5000

var ring [size][]byte

// sink keeps the compiler from putting the short-lived buffer on the stack.
var sink []byte

func handle(id int) {
	ring[id%size] = []byte(strings.Repeat("y", 1024))
	sink = make([]byte, 2*1024) // ordinary short-lived work: garbage at once
}

func main() {
	seconds := flag.Float64("seconds", 3600, "how long to run")
	rate := flag.Int("rate", 4000, "requests per second")
	listen := flag.String("listen", "", "serve /debug/pprof and /debug/vars on this address")
	flag.Parse()
	debug.SetGCPercent(400)
	if *listen != "" {
		go func() { fmt.Fprintln(os.Stderr, http.ListenAndServe(*listen, nil)) }()
	}
	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	id := 0
	for time.Now().Before(deadline) {
		for i := 0; i < *rate/20; i++ {
			handle(id)
			id++
		}
		time.Sleep(50 * time.Millisecond)
	}
}
