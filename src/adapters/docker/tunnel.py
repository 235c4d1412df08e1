# lanes gateway tunnel: listens on a loopback port inside a sandbox that has no network, and
# carries each connection to lanes over this exec's stdin/stdout (the same Docker API stream
# that reaches local and remote TLS engines alike). Frames: op (1 byte), connection id (4),
# length (4), payload. ops: 0 ready, 1 open, 2 data, 3 close.
import os, socket, struct, sys, threading

out = sys.stdout.buffer
lock = threading.Lock()
conns = {}
done = set()  # (id, side) pairs closed: a connection goes when both sides have

def send(op, cid, data=b""):
    with lock:
        out.write(struct.pack(">BII", op, cid, len(data)) + data)
        out.flush()

def finish(cid, side):
    with lock:
        done.add((cid, side))
        both = (cid, "in") in done and (cid, "out") in done
    if both:
        s = conns.pop(cid, None)
        if s is not None:
            s.close()

def pump(cid, s):
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            send(2, cid, data)
    except OSError:
        pass
    send(3, cid)
    finish(cid, "in")

def accept(srv):
    n = 0
    while True:
        s, _ = srv.accept()
        n += 1
        conns[n] = s
        send(1, n)
        threading.Thread(target=pump, args=(n, s), daemon=True).start()

def readn(k):
    buf = b""
    while len(buf) < k:
        chunk = sys.stdin.buffer.read(k - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(64)
threading.Thread(target=accept, args=(srv,), daemon=True).start()
send(0, 0)
while True:
    head = readn(9)
    if head is None:
        break
    op, cid, size = struct.unpack(">BII", head)
    data = readn(size) if size else b""
    if data is None:
        break
    s = conns.get(cid)
    if s is None:
        continue
    try:
        if op == 2:
            s.sendall(data)
        elif op == 3:
            s.shutdown(socket.SHUT_WR)
            finish(cid, "out")
    except OSError:
        pass
# lanes closed the stream: the run is over, and so is every connection.
os._exit(0)
