"""The Go runtime model: size classes, allocator and GC pacer, simulated in batches. Pure."""
