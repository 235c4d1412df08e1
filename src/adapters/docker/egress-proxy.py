# lanes egress proxy: the only way out of a sandbox with `network: allowlist`. It runs in a
# sidecar container attached to the sandbox's internal network (no route out) and to the bridge,
# speaks HTTP CONNECT and plain HTTP proxying, lets through only the allowlisted host:port pairs
# (443 where an entry names no port), never connects to an address that is not global (loopback,
# private, link-local, CGNAT, multicast, reserved, IPv4-mapped forms of those), and prints one
# JSON line per attempt, malformed ones included (domain, allowed or blocked, bytes) for the
# run's trajectory and audit trail.
import ipaddress, json, os, select, socket, sys, threading, time

def entry(text):
    # host[:port] -> (host, port); no port means 443 (TLS), as a package registry is reached.
    text = text.strip().lower()
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or (text.startswith("[") and not host.endswith("]")):
        return text.strip("[]").rstrip("."), 443
    return host.strip("[]").rstrip("."), int(port)


ALLOW = [entry(d) for d in os.environ.get("LANES_ALLOW", "").split(",") if d.strip()]
CLIENTS = ipaddress.ip_network(os.environ["LANES_CLIENTS"])
lock = threading.Lock()


# Never reached through the proxy: this host, its networks and everything not routed on the internet.
DENY = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "fe80::/10", "fc00::/7", "ff00::/8", "64:ff9b::/96", "64:ff9b:1::/48")]


def internal(ip):
    # An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it is.
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in DENY if net.version == ip.version)


def log(**event):
    with lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def listed(host, port=None):
    h = host.lower().rstrip(".")
    return any((h == d or (d.startswith("*.") and h.endswith(d[1:]))) and (port is None or port == p) for d, p in ALLOW)


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
        if not internal(ipaddress.ip_address(addr[0].split("%")[0])):
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
        log(allowed=False, reason="malformed request", host="", port=0, method="", line=lines[0][:200])
        refuse(conn, "400 Bad Request", "not an HTTP proxy request")
        return conn.close()
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        path_line = None
    else:
        if not target.startswith("http://"):
            log(allowed=False, reason="malformed request", host="", port=0, method=method[:20], line=lines[0][:200])
            refuse(conn, "400 Bad Request", "plain HTTP requests need an absolute http:// URL")
            return conn.close()
        hostport, _, path = target[len("http://"):].partition("/")
        host, _, port = hostport.partition(":")
        path_line = "%s /%s %s" % (method, path, version)
    host = host.strip("[]")
    try:
        port = int(port or (443 if method == "CONNECT" else 80))
    except ValueError:
        log(allowed=False, reason="malformed request", host=host[:200], port=0, method=method[:20])
        refuse(conn, "400 Bad Request", "bad port")
        return conn.close()
    event = {"host": host, "port": port, "method": method}
    shown = ", ".join("%s:%d" % a for a in ALLOW) or "empty"
    if not listed(host):
        log(allowed=False, reason="not in the allowlist", **event)
        refuse(conn, "403 Forbidden", "egress to %s is blocked: not in this sandbox's allowlist (%s)" % (host, shown))
        return conn.close()
    if not listed(host, port):
        log(allowed=False, reason="port %d is not allowed" % port, **event)
        refuse(conn, "403 Forbidden", "egress to %s:%d is blocked: the allowlist has %s" % (host, port, shown))
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
