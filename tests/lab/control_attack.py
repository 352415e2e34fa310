#!/usr/bin/python3
"""Hostile clients of the forwarder's control socket (@l2tp-forwarder), for ControlSocket.Tests.ps1.

  control_attack.py idle SECONDS N        hold N idle connections, reopening those the forwarder closes
  control_attack.py flood SECONDS         connect and send requests without ever reading a reply
  control_attack.py malformed SEED        send malformed requests; print one JSON line: replies, closed, hung
  control_attack.py linger                connect, send nothing; print the seconds until the forwarder hangs up
  control_attack.py diagnose TUNNEL       hostile DIAGNOSE requests (l2tp-forwarder family) about TUNNEL; print one
                                          JSON line: each case's errno (0: answered), and a burst's replies and bytes
  control_attack.py broken SECONDS        serve @l2tp-forwarder as a broken forwarder would: the family lookup is
                                          answered, every l2tp request gets a data reply without attributes

Bounded in count and time; talks only to the abstract socket of the network namespace it runs in.
"""
import json
import random
import socket
import struct
import sys
import time

NAME = b"\0l2tp-forwarder"
FAMILY = 0x20          # the l2tp family id the forwarder answers to (ControlServer.FamilyId)
FWD_FAMILY = 0x21      # the l2tp-forwarder family (ForwarderGenl.FamilyId); CMD_DIAGNOSE 3, ATTR_TUNNEL_ID 11
F_REQUEST, F_ACK, F_DUMP = 0x1, 0x4, 0x300


def connect(blocking=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.setblocking(blocking)
    try:
        s.connect(NAME)
    except (BlockingIOError, InterruptedError):
        pass
    return s


def attr(t, value):
    a = struct.pack("<HH", 4 + len(value), t) + value
    return a + b"\0" * ((4 - len(a) % 4) % 4)


def msg(mtype, flags, seq, payload, length=None):
    n = 16 + len(payload) if length is None else length
    return struct.pack("<IHHII", n, mtype, flags, seq, 0) + payload


def genl(cmd, attrs=b""):
    return struct.pack("<BBH", cmd, 1, 0) + attrs


def idle(seconds, n):
    end = time.time() + seconds
    conns = []
    while time.time() < end:
        alive = []
        for s in conns:
            try:
                if s.recv(1, socket.MSG_DONTWAIT) == b"":
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            alive.append(s)
        conns = alive
        while len(conns) < n:
            try:
                conns.append(connect(blocking=False))
            except OSError:
                break
        time.sleep(0.05)


def flood(seconds):
    end = time.time() + seconds
    req = msg(FAMILY, F_REQUEST | F_ACK | F_DUMP, 1, genl(4))
    s = None
    while time.time() < end:
        try:
            if s is None:
                s = connect(blocking=False)
            for _ in range(100):
                s.send(req)
        except (BlockingIOError, InterruptedError):
            time.sleep(0.01)
        except OSError:
            if s is not None:
                s.close()
            s = None
            time.sleep(0.01)


def malformed(seed):
    rnd = random.Random(seed)
    cases = []
    for _ in range(40):
        cases.append(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 512))))
    cases += [
        msg(FAMILY, F_REQUEST | F_ACK, 7, genl(4), length=0xFFFF),            # length beyond the packet
        msg(FAMILY, F_REQUEST | F_ACK, 7, genl(4), length=8),                 # length below a header
        msg(FAMILY, F_REQUEST | F_ACK, 7, genl(99)),                          # unknown command
        msg(0x55, F_REQUEST | F_ACK, 7, genl(1)),                             # unknown family
        msg(FAMILY, F_REQUEST | F_ACK, 7, genl(1, attr(250, b"x" * 40))),      # unknown attribute only
        msg(FAMILY, F_REQUEST | F_ACK, 7, genl(1, struct.pack("<HH", 0xFFF0, 9) + b"\0" * 8)),   # attribute overruns
        msg(FAMILY, F_REQUEST | F_ACK, 7, genl(1, attr(9, b"\1\0")))          # conn id too short
        + b"",
        msg(FAMILY, F_REQUEST | F_ACK, 7, genl(5, attr(9, struct.pack("<I", 3000)) + attr(10, b"y" * 60000))),  # oversize attribute
        msg(FAMILY, F_REQUEST | F_ACK, 7, genl(1)) * 3,                       # several requests, all missing attributes
        msg(FAMILY, F_REQUEST | F_ACK, 7, b"\1"),                             # genl header cut short
        b"\0" * (100 * 1024),                                                 # over the request size limit
    ]
    replies = closed = hung = 0
    for c in cases:
        s = connect()
        s.settimeout(3)
        try:
            s.send(c)
            data = s.recv(65536)
            if data == b"":
                closed += 1
            else:
                replies += 1
        except socket.timeout:
            hung += 1
        except OSError:
            closed += 1
        finally:
            s.close()
    print(json.dumps({"cases": len(cases), "replies": replies, "closed": closed, "hung": hung}), flush=True)


def replies(s, want_acks):
    """Reads until want_acks NLMSG_ERROR messages arrived: their errnos, and the bytes read in all."""
    errnos, total = [], 0
    while len(errnos) < want_acks:
        data = s.recv(65536)
        if data == b"":
            break
        total += len(data)
        o = 0
        while o + 16 <= len(data):
            n, t = struct.unpack_from("<IH", data, o)
            if t == 2:
                errnos.append(-struct.unpack_from("<i", data, o + 16)[0])
            o += max(16, (n + 3) & ~3)
    return errnos, total


def diagnose(tunnel):
    def req(attrs, seq=7):
        return msg(FWD_FAMILY, F_REQUEST | F_ACK, seq, genl(3, attrs))
    tid = lambda v: attr(11, struct.pack("<I", v))
    cases = {
        "missing": req(b""),
        "short": req(attr(11, b"\1\0")),
        "unknown": req(tid(4242)),
        "max": req(tid(0xFFFFFFFF)),
        "duplicate": req(tid(4242) + tid(tunnel)),
        "oversize": req(tid(tunnel) + attr(250, b"y" * 60000)),
    }
    out = {}
    for name, c in cases.items():
        s = connect()
        s.settimeout(3)
        try:
            s.send(c)
            errnos, _ = replies(s, 1)
            out[name] = errnos[0] if errnos else "closed"
        except socket.timeout:
            out[name] = "hung"
        except OSError:
            out[name] = "closed"
        finally:
            s.close()
    # As many DIAGNOSE requests as one request packet holds (64 KiB): every one answered, the replies bounded.
    burst = b"".join(req(tid(tunnel), seq=i) for i in range(2300))
    s = connect()
    s.settimeout(10)
    try:
        s.send(burst)
        errnos, total = replies(s, 2300)
        out["burst_acks"], out["burst_bytes"] = sum(1 for e in errnos if e == 0), total
    except (socket.timeout, OSError) as e:
        out["burst_acks"], out["burst_bytes"] = str(e), 0
    finally:
        s.close()
    print(json.dumps(out), flush=True)


def linger():
    s = connect()
    start = time.time()
    s.settimeout(30)
    try:
        s.recv(1)
    except OSError:
        pass
    print(json.dumps({"seconds": round(time.time() - start, 3)}), flush=True)


def broken(seconds):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(NAME)
    srv.listen(8)
    srv.settimeout(seconds)
    print("listening", flush=True)
    end = time.time() + seconds
    while time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            break
        c.settimeout(5)
        try:
            while True:
                req = c.recv(65536)
                if not req:
                    break
                n, mtype, flags, seq, pid = struct.unpack_from("<IHHII", req)
                ack = msg(2, 0x100, seq, struct.pack("<i", 0) + req[:16])
                if mtype == 0x10:   # nlctrl: say the l2tp family is FAMILY
                    body = genl(1, attr(1, struct.pack("<H", FAMILY)) + attr(2, b"l2tp\0"))
                    c.send(msg(0x10, 0, seq, body) + ack)
                else:               # a data reply with no attributes at all, then done
                    c.send(msg(FAMILY, 0x2, seq, genl(4)) + msg(3, 0x2, seq, struct.pack("<i", 0)))
        except OSError:
            pass
        c.close()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "idle":
        idle(float(sys.argv[2]), int(sys.argv[3]))
    elif mode == "flood":
        flood(float(sys.argv[2]))
    elif mode == "malformed":
        malformed(int(sys.argv[2]))
    elif mode == "diagnose":
        diagnose(int(sys.argv[2]))
    elif mode == "linger":
        linger()
    elif mode == "broken":
        broken(float(sys.argv[2]))
    else:
        sys.exit("unknown mode " + mode)
