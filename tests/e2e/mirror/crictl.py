#!/usr/bin/python3
"""A stand-in for crictl in end-to-end tests: a small, real CRI client.

No Debian package ships crictl, so the test mirror serves this program in
crictl's release tarball. It speaks gRPC (HTTP/2 without TLS, prior
knowledge) to the runtime's unix socket, encodes and decodes protobuf by
hand, and prints what crictl v1.36 prints for `crictl version`,
`crictl info`, `crictl pull IMAGE` and `crictl --version`. Every value it prints comes from the
socket; it never prints canned data. It needs python3 and python3-h2.
"""

import datetime
import json
import os
import socket
import struct
import sys
import time
import urllib.parse
from decimal import Decimal

import h2.config
import h2.connection
import h2.events
import h2.exceptions

VERSION = "v1.36.0"  # the packer rewrites this line for the release it builds
DEFAULT_CONFIG = "/etc/crictl.yaml"
DEFAULT_ENDPOINTS = [
    "unix:///run/containerd/containerd.sock",
    "unix:///run/crio/crio.sock",
    "unix:///var/run/cri-dockerd.sock",
]
DEFAULT_TIMEOUT = 2.0
GRPC_CODES = [
    "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
    "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
    "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
    "Internal", "Unavailable", "DataLoss", "Unauthenticated",
]


class Fatal(Exception):
    """An error that crictl reports with logrus.Fatal (exit status 1)."""


class RPCError(Fatal):
    def __init__(self, code, desc):
        super().__init__("rpc error: code = %s desc = %s" % (code, desc))


# ---- protobuf: just enough of the wire format -------------------------------

def encode_varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode_message(number, data):
    return encode_varint(number << 3 | 2) + encode_varint(len(data)) + data


def encode_string(number, text):
    return encode_message(number, text.encode())


def encode_bool(number, value):
    return encode_varint(number << 3) + encode_varint(1) if value else b""


def read_varint(buf, pos):
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def decode(buf):
    """Map each field number to the list of its values (int or bytes)."""
    fields = {}
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        wire = key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 2:
            size, pos = read_varint(buf, pos)
            value, pos = bytes(buf[pos:pos + size]), pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = bytes(buf[pos:pos + size]), pos + size
        else:
            raise ValueError("unsupported wire type %d" % wire)
        if pos > len(buf):
            raise ValueError("truncated field %d" % (key >> 3))
        fields.setdefault(key >> 3, []).append(value)
    return fields


def pb_string(fields, number):
    return fields.get(number, [b""])[-1].decode("utf-8", "replace")


def pb_bool(fields, number):
    return bool(fields.get(number, [0])[-1])


def pb_message(fields, number):
    """A submessage's fields, or None when the field is absent."""
    values = fields.get(number)
    return decode(b"".join(values)) if values else None


# ---- gRPC over HTTP/2 on a unix socket --------------------------------------

def socket_path(endpoint):
    url = urllib.parse.urlsplit(endpoint)
    if url.scheme == "":
        url = urllib.parse.urlsplit("unix://" + endpoint)
    if url.scheme != "unix":
        raise Fatal("only support unix socket endpoint")
    return url.path


class Channel:
    """One HTTP/2 connection to the runtime, carrying unary calls."""

    def __init__(self, endpoint, timeout):
        self.path = socket_path(endpoint)
        self.timeout = timeout
        self.sock = None
        self.conn = None

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError as err:
            sock.close()
            reason = os.strerror(err.errno) if err.errno else str(err)
            raise RPCError(
                "Unavailable",
                'connection error: desc = "transport: Error while dialing: '
                'dial unix %s: connect: %s"' % (self.path, reason.lower()),
            ) from err
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.sock = sock

    def call(self, method, request, timeout=None):
        if self.sock is None:
            self.connect()
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream, [
            (":method", "POST"), (":scheme", "http"), (":path", method),
            (":authority", "localhost"), ("content-type", "application/grpc"),
            ("te", "trailers"), ("grpc-timeout", "%dm" % (timeout * 1000)),
            ("user-agent", "crictl-e2e-cri-client/" + VERSION),
        ])
        self.conn.send_data(stream, struct.pack(">BI", 0, len(request)) + request,
                            end_stream=True)
        headers, body = self.exchange(stream, deadline)
        return self.unary_response(headers, body)

    def exchange(self, stream, deadline):
        headers, body = {}, bytearray()
        while True:
            self.sock.sendall(self.conn.data_to_send())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RPCError("DeadlineExceeded", "context deadline exceeded")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout as err:
                raise RPCError("DeadlineExceeded", "context deadline exceeded") from err
            if not data:
                raise RPCError("Unavailable", "error reading from server: EOF")
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError as err:
                raise RPCError("Internal", "HTTP/2 protocol error: %s" % err) from err
            for event in events:
                if getattr(event, "stream_id", stream) != stream:
                    continue
                if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    headers.update(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, h2.events.StreamReset):
                    code = getattr(event.error_code, "name", event.error_code)
                    raise RPCError("Internal", "stream terminated by RST_STREAM with "
                                   "error code: %s" % code)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    raise RPCError("Unavailable", "error reading from server: EOF")
                elif isinstance(event, h2.events.StreamEnded):
                    self.sock.sendall(self.conn.data_to_send())
                    return headers, bytes(body)

    @staticmethod
    def unary_response(headers, body):
        if headers.get(":status") != "200":
            raise RPCError("Unknown", "unexpected HTTP status code received from "
                           "server: %s" % headers.get(":status"))
        status = headers.get("grpc-status")
        if status is None:
            raise RPCError("Internal", "server closed the stream without sending trailers")
        if status != "0":
            code = int(status)
            name = GRPC_CODES[code] if code < len(GRPC_CODES) else "Code(%d)" % code
            raise RPCError(name, urllib.parse.unquote(headers.get("grpc-message", "")))
        if len(body) < 5:
            raise RPCError("Internal", "server sent no response message")
        compressed, size = struct.unpack(">BI", body[:5])
        if compressed:
            raise RPCError("Internal", "grpc: compressed flag set with identity or empty encoding")
        return body[5:5 + size]

    def close(self):
        if self.sock is not None:
            self.sock.close()


# ---- JSON the way Go's encoding/json writes it ------------------------------

def go_number(value):
    # Go decodes JSON numbers into float64 and writes them back in its own form.
    if value != value or value in (float("inf"), float("-inf")):
        raise Fatal("json: unsupported value: %r" % value)
    if value == 0 or 1e-6 <= abs(value) < 1e21:
        return format(Decimal(repr(value)).normalize(), "f")
    text = repr(value)
    if "e-0" in text:
        text = text.replace("e-0", "e-")
    return text


def go_string(text):
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\n\r\t\b\f":
            out.append(json.dumps(char)[1:-1])
        elif code < 0x20 or char in "<>&\u2028\u2029":
            out.append("\\u%04x" % code)
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out + ['"'])


def go_json(value, indent=""):
    """json.Marshal (sorted keys, HTML-safe) followed by json.Indent(.., "", "  ")."""
    inner = indent + "  "
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_number(float(value))
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [inner + go_string(k) + ": " + go_json(value[k], inner) for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if not value:
        return "[]"
    items = [inner + go_json(v, inner) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + indent + "]"


def go_unmarshal(text):
    def reject(name):
        raise ValueError("invalid JSON value %s" % name)

    return json.loads(text, parse_int=float, parse_float=float, parse_constant=reject)


# ---- the commands ------------------------------------------------------------

def cmd_version(channel):
    try:
        reply = decode(channel.call("/runtime.v1.RuntimeService/Version",
                                    encode_string(1, "v1")))
    except Fatal as err:
        raise Fatal("getting the runtime version: %s" % err) from err
    names = ["Version", "RuntimeName", "RuntimeVersion", "RuntimeApiVersion"]
    values = [pb_string(reply, number) for number in (1, 2, 3, 4)]
    missing = [n for n, v in zip(names, values) if not v]
    if missing:
        # crictl checks them in this order: Version, RuntimeName, RuntimeApiVersion, RuntimeVersion
        order = ["Version", "RuntimeName", "RuntimeApiVersion", "RuntimeVersion"]
        raise Fatal("getting the runtime version: not all fields are set in VersionResponse "
                    "(missing %s)" % ", ".join(n for n in order if n in missing))
    for name, value in zip(names, values):
        print("%s:  %s" % (name, value))


def status_json(status):
    conditions = []
    for raw in (status or {}).get(1, []):
        cond = decode(raw)
        conditions.append({"type": pb_string(cond, 1), "status": pb_bool(cond, 2),
                           "reason": pb_string(cond, 3), "message": pb_string(cond, 4)})
    return {"conditions": conditions} if status is not None else {}


def handler_json(raw):
    fields = decode(raw)
    out = {}
    if pb_string(fields, 1):
        out["name"] = pb_string(fields, 1)
    features = pb_message(fields, 2)
    if features is not None:
        out["features"] = {k: True for n, k in
                           ((1, "recursive_read_only_mounts"), (2, "user_namespaces"))
                           if pb_bool(features, n)}
    return out


def cmd_info(channel, output, quiet):
    if output != "json":
        raise Fatal("output format %s is not implemented by this e2e CRI client "
                    "(it implements json)" % json.dumps(output))
    try:
        reply = decode(channel.call("/runtime.v1.RuntimeService/Status",
                                    encode_bool(1, not quiet)))
        status = pb_message(reply, 1)
        if status is None or len(status.get(1, [])) < 2:
            raise Fatal("RuntimeReady or NetworkReady condition are not set")
    except Fatal as err:
        raise Fatal("getting status of runtime: %s" % err) from err
    result = {"status": status_json(status)}
    if 3 in reply:
        result["runtimeHandlers"] = [handler_json(raw) for raw in reply[3]]
    features = pb_message(reply, 4)
    if features is not None:
        names = ((1, "supplemental_groups_policy"), (2, "user_namespaces_host_network"))
        result["features"] = {k: True for n, k in names if pb_bool(features, n)}
    info = {}
    for raw in reply.get(2, []):
        entry = decode(raw)
        info[pb_string(entry, 1)] = pb_string(entry, 2)
    for key, value in info.items():
        if value.startswith("{"):
            try:
                result[key] = go_unmarshal(value)
            except ValueError as err:
                raise Fatal("unmarshal status info JSON: %s" % err) from err
        else:
            result[key] = value.strip('"')
    print(go_json(result))


# crictl sets no deadline on a pull unless --pull-timeout asks for one; this
# client bounds it all the same, so that a test never hangs on a pull.
PULL_TIMEOUT = 600.0


def cmd_pull(channel, image):
    # PullImageRequest{image: ImageSpec{image}}; the reply's field 1 is the image ref.
    request = encode_message(1, encode_string(1, image))
    try:
        reply = decode(channel.call("/runtime.v1.ImageService/PullImage", request,
                                    timeout=PULL_TIMEOUT))
    except Fatal as err:
        raise Fatal("pulling image: %s" % err) from err
    print("Image is up to date for %s" % pb_string(reply, 1))


# ---- command line, configuration and logging --------------------------------

def log(level, message):
    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    quoted = json.dumps(message, ensure_ascii=False)
    sys.stderr.write('time="%s" level=%s msg=%s\n' % (stamp.replace("+00:00", "Z"), level, quoted))


def parse_duration(text):
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * units[unit]
    raise Fatal("invalid value %s for flag -timeout: parse error" % json.dumps(text))


def read_config(path):
    config = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if ":" in line:
                key, value = (part.strip() for part in line.split(":", 1))
                config[key] = value.strip("'\"")
    return config


GLOBAL_FLAGS = {"-c": "config", "--config": "config", "-r": "runtime-endpoint",
                "--runtime-endpoint": "runtime-endpoint", "-i": "image-endpoint",
                "--image-endpoint": "image-endpoint", "-t": "timeout", "--timeout": "timeout"}
INFO_FLAGS = {"-o": "output", "--output": "output", "--template": "template"}
BOOL_FLAGS = {"-D", "--debug", "-v", "--version", "-q", "--quiet", "-h", "--help"}


def parse_flags(args, valued):
    """Parse leading flags; return (flags, remaining args)."""
    flags = {}
    while args and args[0].startswith("-") and args[0] != "-":
        arg = args.pop(0)
        if arg == "--":
            break
        name, _, inline = arg.partition("=")
        if name in valued:
            if not inline and not args:
                raise Fatal("flag needs an argument: %s" % name)
            flags[valued[name]] = inline or args.pop(0)
        elif name in BOOL_FLAGS:
            flags[name.lstrip("-")[0]] = True
        else:
            raise Fatal("flag provided but not defined: %s" % name)
    return flags, args


def settings(flags):
    """Endpoint and timeout, chosen the way crictl's app.Before chooses them."""
    endpoint = flags.get("runtime-endpoint", os.environ.get("CONTAINER_RUNTIME_ENDPOINT"))
    timeout = parse_duration(flags["timeout"]) if "timeout" in flags else None
    path = flags.get("config", os.environ.get("CRI_CONFIG_FILE", DEFAULT_CONFIG))
    if not os.path.exists(path):
        if "config" in flags or "CRI_CONFIG_FILE" in os.environ:
            raise Fatal("load config file: stat %s: no such file or directory" % path)
        fallback = os.path.join(os.path.dirname(os.path.realpath(sys.argv[0])), "crictl.yaml")
        log("warning", "Config %s does not exist, trying next: %s"
            % (json.dumps(path), json.dumps(fallback)))
        path = fallback if os.path.exists(fallback) else None
    config = read_config(path) if path else {}
    if endpoint is None and config.get("runtime-endpoint"):
        endpoint = config["runtime-endpoint"]
    config_timeout = config.get("timeout", "0")
    if timeout is None and config_timeout.isdigit() and int(config_timeout) > 0:
        timeout = float(config_timeout)
    if timeout is None or timeout <= 0:
        timeout = DEFAULT_TIMEOUT
    return endpoint, timeout


def runtime_channel(endpoint, timeout):
    """Connect and validate the way cri-client does (a Version call first)."""
    if endpoint == "":
        raise Fatal("--runtime-endpoint is not set")
    candidates = [endpoint] if endpoint is not None else DEFAULT_ENDPOINTS
    if endpoint is None:
        log("warning", "runtime connect using default endpoints: [%s]. As the default "
            "settings are now deprecated, you should set the endpoint instead."
            % " ".join(DEFAULT_ENDPOINTS))
    error = None
    for candidate in candidates:
        channel = Channel(candidate, timeout)
        try:
            channel.call("/runtime.v1.RuntimeService/Version", b"")
            return channel
        except Fatal as err:
            channel.close()
            error = Fatal("validate service connection: validate CRI v1 runtime API for "
                          "endpoint %s: %s" % (json.dumps(candidate), err))
            if endpoint is None:
                log("error", str(error))
    raise error


def main(argv):
    try:
        flags, args = parse_flags(list(argv), GLOBAL_FLAGS)
        if flags.get("v"):
            print("crictl version %s (e2e CRI client)" % VERSION)
            return 0
        command = args.pop(0) if args else None
        usage = "crictl (e2e CRI client %s) implements: version, info, pull, --version" % VERSION
        if command is None or flags.get("h"):
            print(usage)
            return 0
        if command not in ("version", "info", "pull"):
            sys.stderr.write("No help topic for '%s'\n%s\n" % (command, usage))
            return 3
        info_flags, args = parse_flags(args, INFO_FLAGS if command == "info" else {})
        if command == "pull" and len(args) != 1:
            raise Fatal("Image name cannot be empty" if not args else "pull takes one image")
        channel = runtime_channel(*settings(flags))
        if command == "info":
            cmd_info(channel, info_flags.get("output", "json"), info_flags.get("q", False))
        elif command == "pull":
            cmd_pull(channel, args[0])
        else:
            cmd_version(channel)
        channel.close()
        return 0
    except (Fatal, OSError, ValueError) as err:
        log("fatal", str(err))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
