"""Test support: loopback peers, links to the emulator, golden transcripts."""
