"""TCP work that times itself, run inside a test's network namespace by
lib/netns.py: prints "ready", waits for a line, does the plan (a JSON
argument), prints one JSON line with what it measured, waits for another
line, exits. Standard library only.

Plans ("mode"):
- "connects": for each of "steps", n connects to (family, port), each
  timed with CLOCK_MONOTONIC around connect(): per step [{"ok",
  "span_ns"}]. A listener that accepts everything runs unless "refused"
  (nothing listens: each connect is refused by a reset).
- "backlog": a listener with backlog 0 whose accept queue is full: the
  first connect fills it, each of the next "slow" connects has its SYN
  dropped and is accepted room for 0.3 s later, so that the SYN the
  client sends again after the initial retransmission timeout (1 s)
  gets through. Then "timeouts" more connects with TCP_SYNCNT 1 that no
  one lets in: the SYN sent at 0 and 1 s, the connect fails with
  ETIMEDOUT at 3 s (the RTO doubled once more).
- "rtt": "rounds" request/response exchanges (one byte each way,
  TCP_NODELAY) on one connection, then the server sends one more
  segment that acknowledges nothing new (no RTT sample: srtt stays as it
  is), then `ss -ti` on the client's socket: its rtt (us) and segs_in,
  and the ports. With "early", connected before "ready".
Any plan may give "comm": the process's name (PR_SET_NAME).
"""
import json
import socket
import subprocess
import sys
import threading
import time

plan = json.loads(sys.argv[1])
FAM = {4: socket.AF_INET, 6: socket.AF_INET6}
HOST = {4: "127.0.0.1", 6: "::1"}


def listener(fam, port, backlog):
    s = socket.socket(FAM[fam], socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST[fam], port))
    s.listen(backlog)
    return s


def timed_connect(fam, port, timeout=None, syncnt=None):
    c = socket.socket(FAM[fam], socket.SOCK_STREAM)
    if timeout:
        c.settimeout(timeout)
    if syncnt:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, syncnt)
    t0 = time.monotonic_ns()
    try:
        c.connect((HOST[fam], port))
        ok = True
    except OSError:
        ok = False
    t1 = time.monotonic_ns()
    return c, {"ok": ok, "span_ns": t1 - t0}


def accept_all(s, keep):
    while True:
        try:
            a, _ = s.accept()
        except OSError:
            return
        keep.append(a)


def connects():
    keep, steps = [], []
    for st in plan["steps"]:
        fam, port, n = st["family"], st["port"], st["n"]
        if not st.get("refused"):
            s = listener(fam, port, 128)
            keep.append(s)
            threading.Thread(target=accept_all, args=(s, keep),
                             daemon=True).start()
        res = []
        for _ in range(n):
            c, r = timed_connect(fam, port)
            res.append(r)
            keep.append(c)
        steps.append(res)
    return {"steps": steps}, keep


def backlog():
    fam, port, slow = plan["family"], plan["port"], plan["slow"]
    s = listener(fam, port, 0)
    keep, res = [s], []
    c, r = timed_connect(fam, port, 10)     # fills the queue
    keep.append(c)
    res.append(r)
    for _ in range(slow):
        def accept_later():
            time.sleep(0.3)
            a, _ = s.accept()
            keep.append(a)
        t = threading.Thread(target=accept_later)
        t.start()
        c, r = timed_connect(fam, port, 10)
        t.join()
        keep.append(c)
        res.append(r)
    for _ in range(plan.get("timeouts", 0)):
        c, r = timed_connect(fam, port, 10, syncnt=1)
        keep.append(c)
        res.append(r)
    return {"connects": res}, keep


def ss_info(lport):
    out = subprocess.run(["ss", "-tinH", "state", "established", "sport",
                          "= :%d" % lport], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    info = {}
    for w in out.split():
        if w.startswith("rtt:"):
            info["rtt_ms"] = w[4:].split("/")[0]
        elif w.startswith("segs_in:"):
            info["segs_in"] = int(w[8:])
    info["ss"] = " ".join(out.split())
    return info


def rtt_connect():
    fam, port = plan["family"], plan["port"]
    s = listener(fam, port, 1)
    c = socket.create_connection((HOST[fam], port))
    a, _ = s.accept()
    for x in (a, c):
        x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s, a, c


def rtt(conn=None):
    s, a, c = conn or rtt_connect()
    for _ in range(plan["rounds"]):
        c.sendall(b"q")
        a.recv(1)
        a.sendall(b"r")
        c.recv(1)
    time.sleep(0.1)         # every ACK in, nothing in flight either way
    a.sendall(b"t")         # acknowledges nothing new: no RTT sample
    c.recv(1)
    time.sleep(0.1)
    info = ss_info(c.getsockname()[1])
    info.update(cport=c.getsockname()[1], sport=plan["port"])
    return info, (s, a, c)


def set_comm(name):
    import ctypes
    ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)   # PR_SET_NAME


def main():
    if plan.get("comm"):
        set_comm(plan["comm"])
    # "early": connected before "ready", for a tracer started on a
    # process that already holds its sockets
    conn = rtt_connect() if plan.get("early") else None
    print("ready", flush=True)
    sys.stdin.readline()
    if conn:
        out, keep = rtt(conn)
    else:
        out, keep = {"connects": connects, "backlog": backlog,
                     "rtt": rtt}[plan["mode"]]()
    print(json.dumps(out), flush=True)
    sys.stdin.readline()
    del keep


main()
