"""Pure analysis: a recording in, data out. No printing, no sockets, no clocks."""
