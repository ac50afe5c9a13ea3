"""One module per verb, each thin over the library."""
