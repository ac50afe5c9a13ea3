// Runs a memgrowth workload spec on the real Go runtime and prints what the runtime did, as
// JSON: num_gc; peak_heap_alloc_bytes and peak_live_heap_bytes (runtime/metrics heap objects,
// garbage not yet swept included, and the heap the last cycle marked live; both sampled every
// 256 KiB allocated); total_alloc_bytes, final_heap_alloc_bytes, heap_objects; heap_inuse,
// heap_idle and heap_released bytes at the end; gc_cpu_fraction; seconds (wall time of the
// phases). GOGC and GOMEMLIMIT come from the environment, as for any Go program.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"time"
	"unsafe"
)

type phase struct {
	Allocs   int64           `json:"allocs"`
	Size     int64           `json:"size"`
	Retain   json.RawMessage `json:"retain"`
	Pointers bool            `json:"pointers"`
}

type spec struct {
	Phases []phase `json:"phases"`
}

var sink unsafe.Pointer

func allocate(size int64, pointers bool) unsafe.Pointer {
	if pointers {
		s := make([]*byte, (size+7)/8)
		return unsafe.Pointer(&s[0])
	}
	s := make([]byte, size)
	return unsafe.Pointer(&s[0])
}

func main() {
	var s spec
	if err := json.Unmarshal([]byte(os.Args[1]), &s); err != nil {
		fmt.Fprintln(os.Stderr, "bad spec:", err)
		os.Exit(2)
	}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"}}
	var peak, peakLive uint64
	record := func() {
		metrics.Read(sample)
		peak = max(peak, sample[0].Value.Uint64())
		peakLive = max(peakLive, sample[1].Value.Uint64())
	}
	var sinceSample int64
	var kept [][]unsafe.Pointer
	runtime.GC()
	var start runtime.MemStats
	runtime.ReadMemStats(&start)
	began := time.Now()
	for _, p := range s.Phases {
		var holder []unsafe.Pointer
		mode, ring := "none", int64(0)
		var r struct{ Ring int64 }
		if json.Unmarshal(p.Retain, &r) == nil && r.Ring > 0 {
			mode, ring = "ring", r.Ring
			holder = make([]unsafe.Pointer, ring)
		} else if string(p.Retain) == `"all"` {
			mode = "all"
			holder = make([]unsafe.Pointer, p.Allocs)
		}
		for i := int64(0); i < p.Allocs; i++ {
			obj := allocate(p.Size, p.Pointers)
			switch mode {
			case "none":
				sink = obj
			case "ring":
				holder[i%ring] = obj
			case "all":
				holder[i] = obj
			}
			sinceSample += p.Size
			if sinceSample >= 256<<10 {
				sinceSample = 0
				record()
			}
		}
		kept = append(kept, holder)
	}
	seconds := time.Since(began).Seconds()
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	record()
	out, _ := json.Marshal(map[string]any{
		"num_gc":                 end.NumGC - start.NumGC,
		"peak_heap_alloc_bytes":  peak,
		"peak_live_heap_bytes":   peakLive,
		"heap_inuse_bytes":       end.HeapInuse,
		"heap_idle_bytes":        end.HeapIdle,
		"heap_released_bytes":    end.HeapReleased,
		"gc_cpu_fraction":        end.GCCPUFraction,
		"total_alloc_bytes":      end.TotalAlloc - start.TotalAlloc,
		"final_heap_alloc_bytes": end.HeapAlloc,
		"heap_objects":           end.HeapObjects,
		"seconds":                seconds,
	})
	fmt.Println(string(out))
	runtime.KeepAlive(kept)
}
