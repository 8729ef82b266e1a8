#!/usr/bin/env python3
"""Driver for scripts/two-hosts: Alice uses a joined node (in one network namespace), Bob uses
the hub directly (in the other). Each step is a separate run so the script can cut the link,
kill the node and restart it in between. State (tokens, conversation, cursors) is kept in a
JSON file. Written from docs/protocol.md; shares only the helpers of protocol_client.py.
Exits non-zero on any failure.
"""

import argparse
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
from protocol_client import Client, expect, http, register  # noqa: E402


def load(path):
    with open(path) as f:
        return json.load(f)


def save(path, state):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def client(base, who):
    return Client(base, who["name"], who["token"], who["id"])


def setup(args):
    bob = register(args.hub, "bob")
    alice = register(args.node, "alice")
    status, users = http(args.node, "GET", "/users", alice.token)
    expect(status == 200 and any(u["id"] == bob.id for u in users), "alice sees bob through her node")
    status, conv = http(args.node, "POST", "/conversations/direct", alice.token, {"user_id": bob.id})
    expect(status in (200, 201), "alice opens a direct chat with bob")
    status, _ = http(args.node, "GET", "/conversations", alice.token)
    expect(status == 200, "alice's list loads through the node")
    save(args.state, {
        "alice": {"name": "alice", "token": alice.token, "id": alice.id},
        "bob": {"name": "bob", "token": bob.token, "id": bob.id},
        "conv": conv["id"],
    })


async def chat(args):
    """Sends one message and waits for one, as `who`, then records the cursor."""
    state = load(args.state)
    me = client(args.base, state[args.who])
    await me.connect()
    if args.ready_file:
        open(args.ready_file, "w").close()

    async def send():
        client_id = args.send.replace(" ", "-")
        await me.send({"type": "send", "ref": client_id, "conversation_id": state["conv"],
                       "client_id": client_id, "body": args.send})
        reply = await me.until(f"the reply to {args.send}",
                               lambda f: f["type"] in ("ack", "error") and f.get("ref") == client_id)
        expect(reply["type"] == "ack", f"{args.send!r} is acknowledged ({reply})")

    async def receive():
        await me.until(args.expect, lambda f: f["type"] == "event" and f["event"]["kind"] == "message_new"
                       and f["event"]["message"]["body"] == args.expect, timeout=20)

    steps = [receive, send] if args.answer else [send, receive]
    for do in steps:
        await do()
    print(f"ok: {args.who} sent {args.send!r} and received {args.expect!r}")
    with open(args.cursor, "w") as f:
        f.write(str(me.last_event_id))
    await me.ws.close()


async def send_many(args):
    """Sends bodies spaced by `interval`. Through the hub: waits for each ack. Through a node
    that cannot reach the hub: waits until the node holds each one on disk."""
    state = load(args.state)
    me = client(args.base, state[args.who])
    await me.connect()
    bodies = args.bodies.split(",")
    for i, body in enumerate(bodies):
        if i:
            await asyncio.sleep(args.interval)
        await me.send({"type": "send", "ref": body, "conversation_id": state["conv"],
                       "client_id": body, "body": body})
        if args.queued:
            continue
        await me.until(f"the ack of {body}", lambda f, b=body: f["type"] == "ack" and f.get("ref") == b)
    if args.queued:
        deadline = time.time() + 10
        while True:
            _, node = http(args.base, "GET", "/node", me.token)
            held = {p["client_id"] for p in node.get("pending", [])}
            if set(bodies) <= held:
                break
            expect(time.time() < deadline, f"the node holds {bodies} on disk (has {sorted(held)})")
            await asyncio.sleep(0.1)
        deadline = time.time() + 20
        while node["link"]["state"] != "offline":
            expect(time.time() < deadline, "the node notices that the hub is out of reach")
            await asyncio.sleep(0.2)
            _, node = http(args.base, "GET", "/node", me.token)
        print("ok: the node knows the hub is out of reach")
        print("ok: the node holds", ", ".join(bodies), "on disk")
    await me.ws.close()


async def verify(args):
    state = load(args.state)
    conv = state["conv"]
    alice_bodies = args.alice.split(",")
    bob_bodies = args.bob.split(",")
    everything = set(alice_bodies + bob_bodies)

    def history(base, who):
        status, page = http(base, "GET", f"/conversations/{conv}/messages?limit=200", who["token"])
        expect(status == 200, f"{who['name']} reads the history")
        return [(m["id"], m["seq"], m["body"]) for m in page["messages"]]

    deadline = time.time() + args.wait
    while True:
        hub_view = history(args.hub, state["bob"])
        bodies = [b for _, _, b in hub_view]
        if everything <= set(bodies):
            break
        expect(time.time() < deadline,
               f"every message reaches the hub within {args.wait} s (missing {sorted(everything - set(bodies))})")
        time.sleep(0.25)
    for body in everything:
        expect(bodies.count(body) == 1, f"{body} is stored exactly once")
    expect([b for b in bodies if b in alice_bodies] == alice_bodies, "alice's messages keep their order")
    expect([b for b in bodies if b in bob_bodies] == bob_bodies, "bob's messages keep their order")

    # Both sides see the same conversation, live and resumed.
    deadline = time.time() + args.wait
    while True:
        node_view = history(args.node, state["alice"])
        if node_view == hub_view:
            break
        expect(time.time() < deadline, "alice's node shows exactly what the hub stored")
        time.sleep(0.25)
    print("ok: alice's node shows exactly what the hub stored")
    _, node = http(args.node, "GET", "/node", state["alice"]["token"])
    expect(node["link"]["state"] == "online" and node["pending"] == [], "nothing is left in the node's outbox")

    for who, base, cursor_file, theirs in (("alice", args.node, args.alice_cursor, bob_bodies),
                                           ("bob", args.hub, args.bob_cursor, alice_bodies)):
        me = client(base, state[who])
        with open(cursor_file) as f:
            me.last_event_id = int(f.read())
        await me.connect(resume=True)
        got = [f["event"]["message"]["body"] for f in me.replayed
               if f["event"]["kind"] == "message_new" and f["event"]["message"]["body"] in everything]
        expect([b for b in got if b in theirs] == theirs,
               f"{who} resumes and receives the other side's messages once, in order ({got})")
        expect(len(got) == len(set(got)), f"{who} receives nothing twice")
        await me.ws.close()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("setup")
    p.add_argument("--hub", required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--state", required=True)
    p = sub.add_parser("chat")
    p.add_argument("--who", required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--send", required=True)
    p.add_argument("--expect", required=True)
    p.add_argument("--answer", action="store_true", help="receive first, then send")
    p.add_argument("--ready-file")
    p.add_argument("--cursor", required=True)
    p = sub.add_parser("send")
    p.add_argument("--who", required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--bodies", required=True)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--queued", action="store_true")
    p = sub.add_parser("verify")
    p.add_argument("--hub", required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--alice", required=True)
    p.add_argument("--bob", required=True)
    p.add_argument("--alice-cursor", required=True)
    p.add_argument("--bob-cursor", required=True)
    p.add_argument("--wait", type=float, default=45)
    args = parser.parse_args()
    if args.step == "setup":
        setup(args)
    elif args.step == "chat":
        asyncio.run(chat(args))
    elif args.step == "send":
        asyncio.run(send_many(args))
    else:
        asyncio.run(verify(args))


if __name__ == "__main__":
    main()
