#!/usr/bin/env python3
"""Two Chinwag clients written only from docs/protocol.md, as a check that the document is
enough to build a client from.

Alice and Bob register, open a direct conversation, watch presence, chat, see typing and
receipts; Bob disconnects, misses messages, reconnects with `resume_from` and must receive exactly what
he missed. With `--check-stored FILE` it instead logs in again and checks that every message
id listed in FILE (written by an earlier run with `--record FILE`) is still in the history,
exactly once: run it after killing and restarting the hub.

Needs the `websockets` package (pip install websockets). Exits non-zero on any failure.
"""

import argparse
import asyncio
import json
import secrets
import sys
import urllib.error
import urllib.request

import websockets

WAIT = 10.0


def http(base, method, path, token=None, body=None):
    """Returns (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + "/api/v1" + path, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=WAIT) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, (json.loads(raw) if raw else None)


def expect(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)


class Client:
    def __init__(self, base, name, token, user_id):
        self.base, self.name, self.token, self.id = base, name, token, user_id
        self.ws = None
        self.last_event_id = 0
        self.replayed = []

    async def connect(self, resume=False):
        url = self.base.replace("http://", "ws://") + "/api/v1/ws"
        self.ws = await websockets.connect(url)
        auth = {"type": "auth", "token": self.token}
        if resume:
            auth["resume_from"] = self.last_event_id
        await self.ws.send(json.dumps(auth))
        ready = await self.recv()
        expect(ready["type"] == "ready", f"{self.name} gets ready")
        if not resume:
            self.last_event_id = ready["last_event_id"]
        self.replayed = []
        while True:
            frame = await self.recv()
            if frame["type"] == "synced":
                return ready
            if frame["type"] == "event":
                self.replayed.append(frame)

    async def recv(self, timeout=WAIT):
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        if frame["type"] == "event":
            assert frame["id"] > self.last_event_id, "event ids grow"
            self.last_event_id = frame["id"]
        return frame

    async def until(self, what, pred, timeout=WAIT):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                expect(False, f"{self.name} receives {what}")
            try:
                frame = await self.recv(left)
            except asyncio.TimeoutError:
                expect(False, f"{self.name} receives {what}")
            if pred(frame):
                return frame

    async def quiet(self, what, pred, seconds=0.5):
        try:
            while True:
                frame = await self.recv(seconds)
                if pred(frame):
                    expect(False, f"{self.name} does not receive {what}")
        except asyncio.TimeoutError:
            print("ok:", f"{self.name} does not receive {what}")

    async def send(self, frame):
        await self.ws.send(json.dumps(frame))


def register(base, name):
    status, body = http(base, "POST", "/auth/register", body={
        "username": name, "display_name": name.capitalize(), "password": name + "-secret"})
    expect(status == 201, f"register {name}" + ("" if status == 201 else f" (got {status} {body})"))
    return Client(base, name, body["token"], body["user"]["id"])


def is_event(kind, **fields):
    def pred(frame):
        if frame.get("type") != "event" or frame["event"]["kind"] != kind:
            return False
        return all(frame["event"].get(k) == v for k, v in fields.items())
    return pred


async def chat(base, record):
    status, hub = http(base, "GET", "/hub")
    expect(status == 200 and hub["protocol"] == 2, f"hub answers: {hub['name']!r}")
    suffix = secrets.token_hex(3)
    alice = register(base, "alice" + suffix)
    bob = register(base, "bob" + suffix)

    status, direct = http(base, "POST", "/conversations/direct", alice.token, {"user_id": bob.id})
    expect(status == 201 and direct["kind"] == "direct", "alice opens a direct chat with bob")
    conv = direct["id"]

    await alice.connect()
    await bob.connect()

    # Alice watches Bob's presence: the reply says he is online; his going away follows.
    await alice.send({"type": "watch", "ref": "w1", "user_ids": [bob.id]})
    watching = await alice.until("watching", lambda f: f["type"] == "watching")
    expect(watching["ref"] == "w1" and watching["presence"] == [{"user_id": bob.id, "status": "online"}],
           "alice watches bob, who is online")
    await bob.send({"type": "presence", "status": "away"})
    away = await alice.until("bob away", lambda f: f["type"] == "presence")
    expect(away["user_id"] == bob.id and away["status"] == "away", "alice sees bob away")
    await bob.quiet("presence of someone he does not watch", lambda f: f["type"] == "presence")
    await bob.send({"type": "presence", "status": "online"})

    await alice.send({"type": "typing", "conversation_id": conv, "typing": True})
    typing = await bob.until("alice typing", lambda f: f["type"] == "typing")
    expect(typing["user_id"] == alice.id and typing["typing"], "bob sees alice typing")
    await alice.quiet("her own typing", lambda f: f["type"] == "typing")

    client_id = "c-" + secrets.token_hex(8)
    await alice.send({"type": "send", "ref": "s1", "conversation_id": conv,
                      "client_id": client_id, "body": "Hi Bob!"})
    ack = await alice.until("ack", lambda f: f.get("ref") == "s1")
    expect(ack["type"] == "ack" and not ack["duplicate"], "alice's message is acknowledged")
    seq = ack["message"]["seq"]
    got = await bob.until("alice's message", is_event("message_new"))
    expect(got["event"]["message"]["body"] == "Hi Bob!", "bob receives the message")
    stopped = await bob.until("typing stopped", lambda f: f["type"] == "typing")
    expect(not stopped["typing"], "sending stops alice's typing indicator")

    await bob.send({"type": "delivered", "conversation_id": conv, "seq": seq})
    r = await alice.until("delivered receipt", is_event("receipt", user_id=bob.id))
    expect(r["event"]["delivered_seq"] == seq, "alice sees delivered")
    await bob.send({"type": "read", "conversation_id": conv, "seq": seq})
    r = await alice.until("read receipt", is_event("receipt", user_id=bob.id, read_seq=seq))
    expect(r["event"]["read_seq"] == seq, "alice sees read")

    # Resend with the same client_id: no duplicate.
    await alice.send({"type": "send", "ref": "s2", "conversation_id": conv,
                      "client_id": client_id, "body": "Hi Bob!"})
    dup = await alice.until("duplicate ack", lambda f: f.get("ref") == "s2")
    expect(dup["duplicate"] and dup["message"]["id"] == ack["message"]["id"], "resend is idempotent")

    # Bob goes away; Alice keeps talking.
    await bob.ws.close()
    sent_ids = [ack["message"]["id"]]
    for i in range(3):
        await alice.send({"type": "send", "ref": f"m{i}", "conversation_id": conv,
                          "client_id": f"c-{suffix}-{i}", "body": f"while you were away {i}"})
        a = await alice.until(f"ack m{i}", lambda f, i=i: f.get("ref") == f"m{i}")
        sent_ids.append(a["message"]["id"])

    await bob.connect(resume=True)
    missed = [f["event"]["message"]["body"] for f in bob.replayed
              if f["event"]["kind"] == "message_new"]
    expect(missed == [f"while you were away {i}" for i in range(3)],
           "bob catches up exactly what he missed, in order")
    await bob.quiet("a duplicate", is_event("message_new"))

    status, page = http(base, "GET", f"/conversations/{conv}/messages?limit=50", bob.token)
    expect(status == 200 and len(page["messages"]) == 4, "history holds 4 messages")
    await alice.ws.close()
    await bob.ws.close()
    if record:
        with open(record, "w") as f:
            json.dump({"user": alice.name, "password": alice.name + "-secret",
                       "conversation": conv, "ids": sent_ids}, f)
        print("recorded", len(sent_ids), "acknowledged message ids in", record)


def check_stored(base, path):
    with open(path) as f:
        rec = json.load(f)
    status, login = http(base, "POST", "/auth/login", body={
        "username": rec["user"], "password": rec["password"]})
    expect(status == 200, "log in again after the restart")
    status, page = http(base, "GET", f"/conversations/{rec['conversation']}/messages?limit=200",
                        login["token"])
    ids = [m["id"] for m in page["messages"]]
    expect(all(ids.count(i) == 1 for i in rec["ids"]),
           f"all {len(rec['ids'])} acknowledged messages are stored exactly once")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:7117")
    parser.add_argument("--record", help="write the acknowledged message ids here")
    parser.add_argument("--check-stored", help="check ids recorded by an earlier run")
    args = parser.parse_args()
    if args.check_stored:
        check_stored(args.base, args.check_stored)
    else:
        asyncio.run(chat(args.base, args.record))
    print("all good")


if __name__ == "__main__":
    main()
