# lanes egress proxy: the only way out of a sandbox with `network: allowlist`. It runs in a
# sidecar container attached to the sandbox's internal network (no route out) and to the bridge,
# speaks HTTP CONNECT and plain HTTP proxying, lets through only the allowlisted domains, never
# connects to loopback, link-local or private Docker addresses, and prints one JSON line per
# attempt (domain, allowed or blocked, bytes) for the run's trajectory and audit trail.
import ipaddress, json, os, select, socket, sys, threading, time

ALLOW = [d.strip().lower().rstrip(".") for d in os.environ.get("LANES_ALLOW", "").split(",") if d.strip()]
CLIENTS = ipaddress.ip_network(os.environ["LANES_CLIENTS"])
DENY = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "fe80::/10", "fc00::/7", "ff00::/8")]
lock = threading.Lock()


def log(**event):
    with lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def listed(host):
    h = host.lower().rstrip(".")
    return any(h == d or (d.startswith("*.") and h.endswith(d[1:])) for d in ALLOW)


def refuse(conn, status, why):
    body = ("lanes: %s\n" % why).encode()
    head = "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
    try:
        conn.sendall((head % (status, len(body))).encode() + body)
    except OSError:
        pass


def resolve(host, port):
    # The first address that is not an internal one; an allowlisted name that points inside is refused.
    for family, _, _, _, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        ip = ipaddress.ip_address(addr[0])
        if not any(ip in net for net in DENY if net.version == ip.version):
            return family, addr
    return None, None


def pump(a, b):
    sent = {a: 0, b: 0}
    try:
        while True:
            ready, _, _ = select.select([a, b], [], [], 300)
            if not ready:
                return sent[a], sent[b]
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return sent[a], sent[b]
                (b if s is a else a).sendall(data)
                sent[s] += len(data)
    except OSError:
        return sent[a], sent[b]


def handle(conn, peer):
    t0 = time.monotonic()
    if ipaddress.ip_address(peer[0]) not in CLIENTS:
        return conn.close()
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return conn.close()
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError:
        refuse(conn, "400 Bad Request", "not an HTTP proxy request")
        return conn.close()
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        path_line = None
    else:
        if not target.startswith("http://"):
            refuse(conn, "400 Bad Request", "plain HTTP requests need an absolute http:// URL")
            return conn.close()
        hostport, _, path = target[len("http://"):].partition("/")
        host, _, port = hostport.partition(":")
        path_line = "%s /%s %s" % (method, path, version)
    host = host.strip("[]")
    port = int(port or (443 if method == "CONNECT" else 80))
    event = {"host": host, "port": port, "method": method}
    if not listed(host):
        log(allowed=False, reason="not in the allowlist", **event)
        refuse(conn, "403 Forbidden", "egress to %s is blocked: not in this sandbox's allowlist (%s)" % (host, ", ".join(ALLOW) or "empty"))
        return conn.close()
    try:
        family, addr = resolve(host, port)
    except OSError as e:
        log(allowed=False, reason="cannot resolve: %s" % e, **event)
        refuse(conn, "502 Bad Gateway", "cannot resolve %s" % host)
        return conn.close()
    if family is None:
        log(allowed=False, reason="resolves to an internal address", **event)
        refuse(conn, "403 Forbidden", "egress to %s is blocked: it resolves to an internal address" % host)
        return conn.close()
    up = socket.socket(family, socket.SOCK_STREAM)
    try:
        up.settimeout(15)
        up.connect(addr)
        up.settimeout(None)
    except OSError as e:
        log(allowed=True, reason="connect failed: %s" % e, **event)
        refuse(conn, "502 Bad Gateway", "cannot connect to %s:%d" % (host, port))
        up.close()
        return conn.close()
    if method == "CONNECT":
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            up.sendall(rest)
    else:
        keep = [l for l in lines[1:] if not l.lower().startswith(("proxy-", "connection:"))]
        up.sendall(("\r\n".join([path_line] + keep + ["Connection: close", "", ""])).encode("latin-1") + rest)
    sent_up, sent_down = pump(conn, up)
    log(allowed=True, bytesUp=sent_up + len(rest), bytesDown=sent_down, ms=int((time.monotonic() - t0) * 1000), **event)
    up.close()
    conn.close()


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 3128))
    server.listen(64)
    log(ready=True)
    while True:
        conn, peer = server.accept()
        threading.Thread(target=handle, args=(conn, peer), daemon=True).start()


main()
