// A leak: every request starts a goroutine that waits for a reply that never comes, each
// holding its request buffer. Ground truth: leak of goroutines, blocked in awaitReply().
package main

import (
	_ "expvar"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"
)

var never = make(chan struct{})

func awaitReply(buffer []byte) {
	<-never // the reply never comes
	_ = buffer
}

func serve(id int) {
	buffer := make([]byte, 16*1024)
	buffer[0] = byte(id)
	go awaitReply(buffer)
}

func main() {
	seconds := flag.Float64("seconds", 3600, "how long to run")
	rate := flag.Int("rate", 100, "requests per second")
	listen := flag.String("listen", "", "serve /debug/pprof and /debug/vars on this address")
	flag.Parse()
	if *listen != "" {
		go func() { fmt.Fprintln(os.Stderr, http.ListenAndServe(*listen, nil)) }()
	}
	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	id := 0
	for time.Now().Before(deadline) {
		for i := 0; i < *rate/20; i++ {
			serve(id)
			id++
		}
		time.Sleep(50 * time.Millisecond)
	}
}
