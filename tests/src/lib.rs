//! Integration test harness for redpipe: starts real servers on loopback ports.
