#!/usr/bin/python3
"""A scripted CRI runtime on a unix socket, for testing crictl.py without containerd.

Usage: fake_cri_server.py SOCKET SPEC.json LOG.jsonl

SPEC maps a method name (Version, Status) to the reply's fields, or to
{"grpc_status": N, "grpc_message": "..."} for a failing call. Each request
received is appended to LOG as {"path": ..., "request": hex}. The server
answers one connection at a time until it is killed.
"""

import json
import socket
import struct
import sys
import urllib.parse

import h2.config
import h2.connection
import h2.events


def varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, value):
    if isinstance(value, bool):
        return varint(number << 3) + varint(1) if value else b""
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def bools(spec, names):
    return b"".join(field(n, bool(spec.get(name))) for n, name in enumerate(names, 1))


def version_reply(spec):
    names = ["version", "runtime_name", "runtime_version", "runtime_api_version"]
    return b"".join(field(n, spec[name]) for n, name in enumerate(names, 1) if name in spec)


def status_reply(spec):
    conditions = b"".join(
        field(1, field(1, c["type"]) + field(2, c["status"]) + field(3, c.get("reason", ""))
              + field(4, c.get("message", "")))
        for c in spec.get("conditions", []))
    out = field(1, conditions)
    for key, value in spec.get("info", {}).items():
        out += field(2, field(1, key) + field(2, value))
    for handler in spec.get("handlers", []):
        features = bools(handler.get("features", {}),
                         ["recursive_read_only_mounts", "user_namespaces"])
        out += field(3, field(1, handler.get("name", "")) + field(2, features))
    if "features" in spec:
        out += field(4, bools(spec["features"], ["supplemental_groups_policy",
                                                 "user_namespaces_host_network"]))
    return out


REPLIES = {"Version": version_reply, "Status": status_reply}


def respond(conn, stream, path, spec):
    method = path.rsplit("/", 1)[-1]
    reply = spec.get(method, {"grpc_status": 12, "grpc_message": "unknown method " + path})
    headers = [(":status", "200"), ("content-type", "application/grpc")]
    if "grpc_status" in reply:
        message = urllib.parse.quote(reply.get("grpc_message", ""))
        conn.send_headers(stream, headers + [("grpc-status", str(reply["grpc_status"])),
                                             ("grpc-message", message)], end_stream=True)
        return
    body = REPLIES[method](reply)
    conn.send_headers(stream, headers)
    conn.send_data(stream, struct.pack(">BI", 0, len(body)) + body)
    conn.send_headers(stream, [("grpc-status", "0")], end_stream=True)


def serve(client, spec, log):
    config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    paths, bodies = {}, {}
    while True:
        client.sendall(conn.data_to_send())
        data = client.recv(65536)
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                paths[event.stream_id] = dict(event.headers)[":path"]
                bodies[event.stream_id] = b""
            elif isinstance(event, h2.events.DataReceived):
                bodies[event.stream_id] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                path = paths.pop(event.stream_id)
                request = bodies.pop(event.stream_id)[5:]
                log.write(json.dumps({"path": path, "request": request.hex()}) + "\n")
                log.flush()
                respond(conn, event.stream_id, path, spec)


def main(sock_path, spec_path, log_path):
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(4)
    with open(log_path, "a", encoding="utf-8") as log:
        while True:
            client, _ = server.accept()
            with client:
                serve(client, spec, log)


if __name__ == "__main__":
    main(*sys.argv[1:4])
