"""Every limit of the application note, in one place (DESIGN principle 1; a leaf)."""

from __future__ import annotations

#: §2.3.1: <connectID> 0-4.
MAX_SOCKETS = 5
#: §2.3.1: <contextID> 1-3, of which only 1 is supported.
CONTEXT_IDS = range(1, 4)
SUPPORTED_CONTEXT = 1
#: §2.3.1: <IP_address>/<domain_name> at most 150 bytes.
MAX_HOST_LENGTH = 150
#: §2.3.4: AT+QISEND=<id>,<len>,<data>: 1024 bytes in text, 512 in hex.
MAX_SEND_TEXT = 1024
MAX_SEND_HEX = 512
#: §2.3.4: in data mode, 1460 bytes in text and 730 in hex.
MAX_DATA_MODE_TEXT = 1460
MAX_DATA_MODE_HEX = 730
#: §2.3.5: <read_length> 1-512.
MAX_READ = 512
#: §2.4 note 4: a URC is at most 1400 bytes.
MAX_URC = 1400
#: §2.4.3: at most 20 buffer nodes per socket; CLARIFICATIONS §16: 1460 bytes a node.
MAX_NODES = 20
NODE_SIZE = 1460
#: §2.3.11: a DNS server address is at most 64 bytes.
MAX_DNS_ADDRESS = 64

#: Bytes a TCP socket may have waiting in user space for the kernel before a send
#: answers SEND FAIL (the module's stack has a bounded send buffer; §2.3.4 note 1).
MAX_TCP_SEND_BACKLOG = 64 * 1024
#: URC bytes held while the host is in data mode or mid-line (CLARIFICATIONS §3);
#: past this, direct-push sockets stop reading (TCP) or drop (UDP) until it drains.
MAX_QUEUED_URC_BYTES = 64 * 1024
#: Seconds a DNS lookup may take in all (every server, retries) before 569; 565 in
#: AT+QIOPEN (CLARIFICATIONS §9; docs/ARCHITECTURE.md decision 39).
DEFAULT_DNS_TIMEOUT = 10.0
#: Seconds the module waits for a TCP connection before +QIOPEN: <id>,569.
DEFAULT_OPEN_TIMEOUT = 60.0

# -- the MQTT and SSL notes (docs/research/mqtt.md) -------------------------------------
#: <TCP_connectID> of AT+QMTOPEN and the rest: 0-5.
MQTT_CLIENTS = 6
#: A topic is at most 255 bytes.
MAX_MQTT_TOPIC = 255
#: AT+QMTPUB: a message typed after the prompt is at most 1024 bytes (hex: 2048 digits).
MAX_MQTT_DATA_MODE_MESSAGE = 1024
#: AT+QSSLCFG: a certificate or key typed after the prompt is at most 4096 bytes.
MAX_PEM = 4096
