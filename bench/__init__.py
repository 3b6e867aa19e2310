"""`make bench`: measures every layer of the stream; writes docs/benchmarks.md."""
