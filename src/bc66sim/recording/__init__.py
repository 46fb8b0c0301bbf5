"""Recordings of sessions (``serve --record``, ``tap``), and what reads them
(``replay``, ``diff``): issue 14.

- format.py: ``session.jsonl``, the recording, and its reader;
- recorder.py: writes a session as it happens (JSON lines and pcapng);
- pcap.py: the pcapng file (IP packets, AT lines and events, in time order);
- packets.py: the module's IP packets, built with scapy;
- network.py: the Network wrapper that tells the recorder what crossed the radio;
- replay.py, diff.py, tap.py: the commands that use recordings.
"""
