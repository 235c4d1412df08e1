# lanes sandbox shim: PID 1's child in an attached sandbox. Requests arrive as JSON lines on
# stdin, answers leave as JSON lines on stdout. One hijacked attach stream thus carries every
# command (no Docker exec round trips), time limits are enforced here by killing the command's
# process group, and when the lanes process holding stdin goes away, stdin ends and so does
# the sandbox (the dead-man's switch).
import json, os, signal, subprocess, sys, threading, time

# The truncation marker's format: channel.ts puts core/sandbox.ts's here when it loads this file.
MARKER = "\n[... lanes: %d bytes truncated ...]\n"

lock = threading.Lock()
procs = {}

def send(obj):
    data = (json.dumps(obj) + "\n").encode()
    with lock:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

def clip(f, limit):
    size = os.fstat(f.fileno()).st_size
    f.seek(0)
    if size <= limit:
        return f.read().decode("utf-8", "replace"), 0
    h = limit // 2
    head = f.read(h)
    f.seek(size - h)
    tail = f.read(h)
    cut = size - 2 * h
    return head.decode("utf-8", "replace") + MARKER % cut + tail.decode("utf-8", "replace"), cut

def stop(p):
    for sig, wait in ((signal.SIGTERM, 2), (signal.SIGKILL, None)):
        try:
            os.killpg(p.pid, sig)
        except OSError:
            return
        try:
            p.wait(wait)
            return
        except subprocess.TimeoutExpired:
            pass

def scratch(name):
    # An anonymous file in /tmp (unlinked at once), without importing tempfile: start-up matters.
    path = "/tmp/.lanes-%d-%s-%s" % (os.getpid(), threading.get_ident(), name)
    f = open(path, "w+b")
    os.unlink(path)
    return f

def run(req):
    t0 = time.monotonic()
    env = dict(os.environ)
    env.update(req.get("env") or {})
    with scratch("out") as out, scratch("err") as err:
        try:
            p = subprocess.Popen(["bash", "-c", req["cmd"]], cwd=req.get("cwd") or "/workspace", env=env,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        except OSError as e:
            return send({"id": req["id"], "code": 127, "stdout": "", "stderr": str(e), "cut": 0, "timedOut": False, "ms": 0})
        procs[req["id"]] = p
        timed_out = False
        try:
            code = p.wait(timeout=req["timeout"])
        except subprocess.TimeoutExpired:
            timed_out = True
            stop(p)
            code = 124
        procs.pop(req["id"], None)
        if code < 0:
            code = 128 - code
        limit = req.get("limit") or 100000
        so, c1 = clip(out, limit)
        se, c2 = clip(err, limit)
        send({"id": req["id"], "code": code, "stdout": so, "stderr": se, "cut": c1 + c2, "timedOut": timed_out,
              "ms": int((time.monotonic() - t0) * 1000)})

def main():
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            break
        try:
            req = json.loads(line)
        except ValueError:
            continue
        if req.get("op") == "hello":
            send({"id": req.get("id"), "ready": "lanes-shim/1"})
        elif req.get("op") == "kill":
            p = procs.get(req.get("target"))
            if p:
                threading.Thread(target=stop, args=(p,), daemon=True).start()
        else:
            threading.Thread(target=run, args=(req,), daemon=True).start()
    for p in list(procs.values()):
        stop(p)

main()
