"""The MQTT commands of the *BC66 MQTT Application Note* and the SSL configuration of
the *BC66 SSL Application Note*: parameters, checks and answers.

What the commands start happens in module/mqtt/client.py; these handlers check the
state a command needs and answer ``OK`` (the outcome follows as a URC) or ``ERROR``.
Decisions where the notes were not at hand are in docs/research/mqtt.md.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from bc66sim.module.commands import (
    Args,
    BadParameter,
    CommandTable,
    DataPrompt,
    Reply,
    Result,
    Spec,
)
from bc66sim.module.errors import CommandError, Err
from bc66sim.module.mqtt import ssl_sockets
from bc66sim.module.mqtt.client import CONN_STATE, MqttClient, Phase
from bc66sim.module.mqtt.tls import SSL_CONNECT_IDS, SSL_CONTEXT_IDS
from bc66sim.module.params import Int, Keyed, Text, Word, value_list
from bc66sim.note.limits import (
    MAX_DATA_MODE_TEXT,
    MAX_MQTT_DATA_MODE_MESSAGE,
    MAX_MQTT_TOPIC,
    MAX_PEM,
    MQTT_CLIENTS,
)

if TYPE_CHECKING:
    from bc66sim.module.modem import Modem


MQTT_NOTE = "MQTT note"
SSL_NOTE = "SSL note"

#: ``<TCP_connectID>`` 0-5.
CLIENT_ID = Int("TCP_connectID", values=range(MQTT_CLIENTS))
#: Host name or address of a broker, its topic and message lengths (BC66 OpenCPU RIL
#: and driver limits: docs/research/mqtt.md).
MAX_BROKER_NAME = 100
MAX_INLINE_MESSAGE = 700
MAX_WILL_MESSAGE = 256
MAX_CLIENT_ID = 128
MAX_CREDENTIAL = 256
MAX_ALIAUTH = 64
#: Packets a client may have waiting for their answer at once.
MAX_IN_FLIGHT = 32


def _optional(name: str, values: range | tuple[int, ...]) -> Int:
    return Int(name, values=values, optional=True)


def _text(name: str, length: int) -> Text:
    return Text(name, max_length=length, optional=True, quoted=False)


#: ``AT+QSSLCFG`` types and their values (the test form's text after the type).
SSL_TYPE_VALUES = {
    "seclevel": "(0-2)",
    "dataformat": "(0,1),(0,1)",
    "timeout": "(10-300)",
    "debug": "(0-4)",
    "cacert": "",
    "clientcert": "",
    "clientkey": "",
}
SSL_TYPES = tuple(SSL_TYPE_VALUES)
SSL_PAIR = f"({value_list(SSL_CONTEXT_IDS)}),({value_list(SSL_CONNECT_IDS)})"


def register(table: CommandTable) -> None:
    section = MQTT_NOTE
    ids = f"(0-{MQTT_CLIENTS - 1})"
    table.add(
        Spec(
            "+QMTCFG",
            tcpip=True,
            section=section,
            # The order of the test form's lines is the note's.
            params=Keyed(
                "type",
                {
                    "will": (
                        CLIENT_ID,
                        _optional("will_fg", (0, 1)),
                        _optional("will_qos", (0, 1, 2)),
                        _optional("will_retain", (0, 1)),
                        _text("will_topic", MAX_MQTT_TOPIC),
                        _text("will_msg", MAX_WILL_MESSAGE),
                    ),
                    "timeout": (
                        CLIENT_ID,
                        _optional("pkt_timeout", range(1, 61)),
                        _optional("retry_times", range(11)),
                        _optional("timeout_notice", (0, 1)),
                    ),
                    "session": (CLIENT_ID, _optional("clean_session", (0, 1))),
                    "keepalive": (CLIENT_ID, _optional("keep_alive_time", range(3601))),
                    "aliauth": (
                        CLIENT_ID,
                        _text("product_key", MAX_ALIAUTH),
                        _text("device_name", MAX_ALIAUTH),
                        _text("device_secret", MAX_ALIAUTH),
                    ),
                    "version": (CLIENT_ID, _optional("version_num", (0, 1))),
                    "showrecvlen": (CLIENT_ID, _optional("show_flag", (0, 1))),
                    "echomode": (CLIENT_ID, _optional("echo_mode", (0, 1))),
                    "dataformat": (
                        CLIENT_ID,
                        _optional("send_format", (0, 1)),
                        _optional("recv_format", (0, 1)),
                    ),
                    "ssl": (
                        CLIENT_ID,
                        _optional("SSL_enable", (0, 1)),
                        _optional("SSL_contextID", SSL_CONTEXT_IDS),
                        _optional("SSL_connectID", SSL_CONNECT_IDS),
                    ),
                },
            ),
            write=_qmtcfg,
        ),
        Spec(
            "+QMTOPEN",
            tcpip=True,
            section=section,
            params=(
                CLIENT_ID,
                _unquoted("host_name", MAX_BROKER_NAME),
                Int("port", values=range(1, 65536)),
            ),
            read=_qmtopen_read,
            write=_qmtopen,
        ),
        Spec("+QMTCLOSE", tcpip=True, section=section, params=(CLIENT_ID,), write=_qmtclose),
        Spec(
            "+QMTCONN",
            tcpip=True,
            section=section,
            params=(
                CLIENT_ID,
                _unquoted("clientID", MAX_CLIENT_ID),
                _unquoted("username", MAX_CREDENTIAL, optional=True),
                _unquoted("password", MAX_CREDENTIAL, optional=True),
            ),
            read=_qmtconn_read,
            write=_qmtconn,
        ),
        Spec("+QMTDISC", tcpip=True, section=section, params=(CLIENT_ID,), write=_qmtdisc),
        Spec(
            "+QMTSUB",
            tcpip=True,
            section=section,
            params=(
                CLIENT_ID,
                Int("msgID", values=range(1, 65536)),
                _unquoted("topic", MAX_MQTT_TOPIC, repeats=True),
                Int("qos", values=(0, 1, 2), repeats=True),
            ),
            test=(f"+QMTSUB: {ids},(1-65535),<topic>,(0-2),<topic>,(0-2),...",),
            write=_qmtsub,
        ),
        Spec(
            "+QMTUNS",
            tcpip=True,
            section=section,
            params=(
                CLIENT_ID,
                Int("msgID", values=range(1, 65536)),
                _unquoted("topic", MAX_MQTT_TOPIC, repeats=True),
            ),
            test=(f"+QMTUNS: {ids},(1-65535),<topic>,<topic>,...",),
            write=_qmtuns,
        ),
        Spec(
            "+QMTPUB",
            tcpip=True,
            section=section,
            params=(
                CLIENT_ID,
                Int("msgID", values=range(65536)),
                Int("qos", values=(0, 1, 2)),
                Int("retain", values=(0, 1)),
                _unquoted("topic", MAX_MQTT_TOPIC),
                _unquoted("msg", 2 * MAX_INLINE_MESSAGE, optional=True),
            ),
            write=_qmtpub,
        ),
        Spec(
            "+QSSLCFG",
            tcpip=True,
            section=SSL_NOTE,
            params=(
                Int("contextID", values=SSL_CONTEXT_IDS),
                Int("connectID", values=SSL_CONNECT_IDS),
                Word("type", choices=SSL_TYPES, optional=True),
                Text("value", max_length=16, quoted=False, optional=True),
                Text("value", max_length=16, quoted=False, optional=True),
            ),
            test=tuple(
                f'+QSSLCFG: {SSL_PAIR},"{kind}"' + ("," + values if values else "")
                for kind, values in SSL_TYPE_VALUES.items()
            ),
            write=_qsslcfg,
        ),
        Spec(
            "+QSSLOPEN",
            tcpip=True,
            section=SSL_NOTE,
            params=(
                Int("contextID", values=SSL_CONTEXT_IDS),
                Int("connectID", values=SSL_CONNECT_IDS),
                _unquoted("host_name", ssl_sockets.MAX_HOST),
                Int("port", values=range(1, 65536)),
                _optional("connect_mode", (0,)),  # transparent mode (1): not on the BC66
            ),
            write=ssl_sockets.qsslopen,
        ),
        Spec(
            "+QSSLSEND",
            tcpip=True,
            section=SSL_NOTE,
            params=(
                Int("contextID", values=SSL_CONTEXT_IDS),
                Int("connectID", values=SSL_CONNECT_IDS),
                _optional("send_length", range(1, MAX_DATA_MODE_TEXT + 1)),
            ),
            write=ssl_sockets.qsslsend,
        ),
        Spec(
            "+QSSLCLOSE",
            tcpip=True,
            section=SSL_NOTE,
            params=(
                Int("contextID", values=SSL_CONTEXT_IDS),
                Int("connectID", values=SSL_CONNECT_IDS),
            ),
            write=ssl_sockets.qsslclose,
        ),
    )


def _unquoted(name: str, length: int, *, optional: bool = False, repeats: bool = False) -> Text:
    """A string the note's test forms show as ``<name>``."""
    return Text(name, max_length=length, quoted=False, optional=optional, repeats=repeats)


# -- AT+QMTCFG ---------------------------------------------------------------------------


#: The ``AT+QMTCFG`` types that are plain numbers: the config fields they show and set,
#: all of them at once (``"timeout"``: the three, or none).
NUMBER_SETTINGS = {
    "version": ("version",),
    "keepalive": ("keepalive",),
    "session": ("clean_session",),
    "timeout": ("pkt_timeout", "retry_times", "timeout_notice"),
    "dataformat": ("send_hex", "recv_hex"),
    "showrecvlen": ("show_recv_length",),
    "echomode": ("echomode",),
}


def _qmtcfg(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QMTCFG="<type>",<id>[,<values>]``: values set, none query."""
    kind = args.text(0).lower()
    config = modem.mqtt.clients[args.number(1)].config
    query = len(args) == 2
    if kind in NUMBER_SETTINGS:
        fields = NUMBER_SETTINGS[kind]
        if query:
            shown = ",".join(str(getattr(config, name)) for name in fields)
            reply.line(f'+QMTCFG: "{kind}",{shown}')
            return None
        args.require(2 + len(fields), 2 + len(fields))
        for index, name in enumerate(fields, start=2):
            setattr(config, name, args.number(index))
    elif kind == "will":
        will = config.will
        if query:
            text = f'+QMTCFG: "will",{will.flag}'
            if will.flag:
                text += f',{will.qos},{will.retain},"{will.topic}","{will.message}"'
            reply.line(text)
        elif args.number(2) == 0:
            args.require(3, 3)
            will.flag = 0
        else:
            args.require(7, 7)
            if not args.text(5):
                raise BadParameter("a will needs a topic")
            will.flag, will.qos, will.retain = 1, args.number(3), args.number(4)
            will.topic, will.message = args.text(5), args.text(6)
    elif kind == "aliauth":
        if query:
            if config.aliauth is not None:
                reply.line('+QMTCFG: "aliauth",' + ",".join(f'"{v}"' for v in config.aliauth))
        else:
            args.require(5, 5)
            config.aliauth = (args.text(2), args.text(3), args.text(4))
    elif kind == "ssl":
        if query:
            text = f'+QMTCFG: "ssl",{config.ssl}'
            if config.ssl:
                text += f",{config.ssl_context},{config.ssl_connect_id}"
            reply.line(text)
        elif args.number(2) == 0:
            args.require(3, 3)
            config.ssl = 0
        else:
            args.require(5, 5)  # <SSL_enable>,<SSL_contextID>,<SSL_connectID>
            config.ssl, config.ssl_context = 1, args.number(3)
            config.ssl_connect_id = args.number(4)
    return None


# -- AT+QMTOPEN / AT+QMTCLOSE ------------------------------------------------------------


def _qmtopen(modem: Modem, args: Args, reply: Reply) -> Result:
    host = args.text(1)
    if not host:
        raise BadParameter("no host")
    modem.mqtt.clients[args.number(0)].open(host, args.number(2))
    return None


def _qmtopen_read(modem: Modem, args: Args, reply: Reply) -> Result:
    for client in modem.mqtt.clients:
        if client.phase is not Phase.CLOSED and client.phase is not Phase.OPENING:
            reply.line(f'+QMTOPEN: {client.id},"{client.host}",{client.port}')
    return None


def _qmtclose(modem: Modem, args: Args, reply: Reply) -> Result:
    """``OK``, then ``+QMTCLOSE: <id>,0`` (or ``-1``: nothing was open)."""
    modem.mqtt.clients[args.number(0)].close()
    return None


# -- AT+QMTCONN / AT+QMTDISC -------------------------------------------------------------


def _qmtconn(modem: Modem, args: Args, reply: Reply) -> Result:
    client = modem.mqtt.clients[args.number(0)]
    if client.phase is not Phase.OPENED:
        raise CommandError(Err.NOT_ALLOWED)
    client_id = args.text(1)
    username = args.text(2) if args.given(2) else None
    password = args.text(3) if args.given(3) else None
    if password is not None and username is None:
        raise BadParameter("a password needs a user name")
    if client.config.aliauth is not None and username is None:
        username, password = _aliauth(client_id, client.config.aliauth)
    client.connect(client_id, username, password)
    return None


def _aliauth(client_id: str, auth: tuple[str, str, str]) -> tuple[str, str]:
    """Alibaba Cloud's device credentials (its "MQTT-TCP connection" signing rule)."""
    product_key, device_name, device_secret = auth
    content = f"clientId{client_id}deviceName{device_name}productKey{product_key}"
    digest = hmac.new(device_secret.encode(), content.encode(), hashlib.sha1).hexdigest()
    return f"{device_name}&{product_key}", digest.upper()


def _qmtconn_read(modem: Modem, args: Args, reply: Reply) -> Result:
    for client in modem.mqtt.clients:
        state = CONN_STATE.get(client.phase)
        if state is not None:
            reply.line(f"+QMTCONN: {client.id},{state}")
    return None


def _qmtdisc(modem: Modem, args: Args, reply: Reply) -> Result:
    """``OK``, then ``+QMTDISC: <id>,0`` (or ``-1``: it was not connected)."""
    modem.mqtt.clients[args.number(0)].disconnect()
    return None


# -- AT+QMTSUB / AT+QMTUNS / AT+QMTPUB ---------------------------------------------------


def _connected(modem: Modem, args: Args, report: str) -> MqttClient:
    """The client for a message command: connected, room for one more in flight, and
    no other of the same kind waiting under the same message ID."""
    client = modem.mqtt.clients[args.number(0)]
    if client.phase is not Phase.CONNECTED:
        raise CommandError(Err.NOT_ALLOWED)
    mid = args.number(1)
    if mid and client.in_flight(report, mid):
        raise CommandError(Err.NOT_ALLOWED)
    if client.pending_count >= MAX_IN_FLIGHT:
        raise CommandError(Err.OPERATION_BUSY)
    return client


def _qmtsub(modem: Modem, args: Args, reply: Reply) -> Result:
    if len(args) % 2:
        raise BadParameter("each topic needs its QoS")
    topics = []
    for index in range(2, len(args), 2):
        topic, qos = args.text(index), args.number(index + 1)
        if not topic or not args.given(index + 1):
            raise BadParameter("an empty topic or QoS")
        topics.append((topic, qos))
    _connected(modem, args, "SUB").subscribe(args.number(1), topics)
    return None


def _qmtuns(modem: Modem, args: Args, reply: Reply) -> Result:
    topics = [args.text(index) for index in range(2, len(args))]
    if not all(topics):
        raise BadParameter("an empty topic")
    _connected(modem, args, "UNS").unsubscribe(args.number(1), topics)
    return None


def _qmtpub(modem: Modem, args: Args, reply: Reply) -> Result:
    mid, qos, retain, topic = args.number(1), args.number(2), bool(args.number(3)), args.text(4)
    # "<msgID> ... will be 0 only when <qos>=0": QoS 1 and 2 need 1-65535. At QoS 0 the
    # packet carries no ID, and a host's non-zero one (seen in published drivers) is
    # taken and reported back in +QMTPUB.
    if qos and not mid:
        raise BadParameter("msgID is 1-65535 for QoS 1 and 2")
    if not topic or "+" in topic or "#" in topic:
        raise BadParameter("a topic to publish to has no wildcards")
    client = _connected(modem, args, "PUB")
    hex_mode = bool(client.config.send_hex)
    if args.given(5):
        payload = _payload(args.text(5).encode("latin-1"), hex_mode)
        if len(payload) > MAX_INLINE_MESSAGE:
            raise BadParameter("the message is longer than the inline form takes")
        client.publish(mid, qos, retain, topic, payload)
        return None

    def complete(data: bytes, final: Reply) -> None:
        payload = _payload(data, hex_mode)
        _connected(modem, args, "PUB").publish(mid, qos, retain, topic, payload)

    per_byte = 2 if hex_mode else 1
    return DataPrompt(
        fixed_length=None,
        max_length=MAX_MQTT_DATA_MODE_MESSAGE * per_byte,
        complete=complete,
        echo=bool(client.config.echomode),
    )


def _payload(data: bytes, hex_mode: bool) -> bytes:
    if not hex_mode:
        return data
    if len(data) % 2:
        raise BadParameter("an odd number of hex digits")
    try:
        return bytes.fromhex(data.decode("latin-1"))
    except ValueError as exc:
        raise BadParameter("not hex digits") from exc


# -- AT+QSSLCFG ----------------------------------------------------------------------------


def _qsslcfg(modem: Modem, args: Args, reply: Reply) -> Result:
    """``AT+QSSLCFG=<contextID>,<connectID>[,"<type>"[,<value>...]]``: no type lists
    every setting of the pair; a type alone shows it; values set it.  Certificates
    and keys are typed in data mode (``>``, PEM, Ctrl+Z)."""
    context_id, connect_id = args.number(0), args.number(1)
    config = modem.mqtt.ssl.get(context_id, connect_id)
    prefix = f"+QSSLCFG: {context_id},{connect_id}"
    shown = {
        "seclevel": str(config.seclevel),
        "dataformat": f"{config.dataformat[0]},{config.dataformat[1]}",
        "timeout": str(config.timeout),
        "debug": str(config.debug),
        "cacert": str(len(config.cacert)),
        "clientcert": str(len(config.clientcert)),
        "clientkey": str(len(config.clientkey)),
    }
    if not args.given(2):
        for kind in SSL_TYPES:
            reply.line(f'{prefix},"{kind}",{shown[kind]}')
        return None
    kind = args.text(2).lower()
    values = [args.text(index) for index in range(3, len(args)) if args.given(index)]
    if kind in ("cacert", "clientcert", "clientkey"):
        if values:
            raise BadParameter(f"the {kind} is typed after the prompt")

        def complete(data: bytes, final: Reply) -> None:
            pem = data.replace(b"\r\n", b"\n")
            if pem and b"-----BEGIN" not in pem:
                raise BadParameter(f"the {kind} is not PEM")
            setattr(config, kind, pem)
            final.line(f'{prefix},"{kind}",{len(pem)}')

        return DataPrompt(fixed_length=None, max_length=MAX_PEM, complete=complete, echo=False)
    if not values:
        reply.line(f'{prefix},"{kind}",{shown[kind]}')
        return None
    numbers = [_number(value) for value in values]
    if kind == "dataformat":
        if len(numbers) != 2 or not all(n in (0, 1) for n in numbers):
            raise BadParameter("dataformat is two values of 0 or 1")
        config.dataformat = (numbers[0], numbers[1])
        return None
    ranges = {"seclevel": range(3), "timeout": range(10, 301), "debug": range(5)}
    if len(numbers) != 1 or numbers[0] not in ranges[kind]:
        raise BadParameter(f"{kind} out of range")
    setattr(config, kind, numbers[0])
    return None


def _number(text: str) -> int:
    try:
        return int(text.strip('"'))
    except ValueError as exc:
        raise BadParameter(f"{text!r} is not a number") from exc
